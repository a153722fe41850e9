#include "scenarios.h"

#include "console.h"
#include "lib.h"
#include "tlbscope/scenario_list.h"

#define TLBSCOPE_SCENARIO_ENTRY(name, id, what, bug) {name, what, scenario_##id, bug},
static const struct scenario scenarios[] = {TLBSCOPE_SCENARIOS(TLBSCOPE_SCENARIO_ENTRY)};
#undef TLBSCOPE_SCENARIO_ENTRY

const struct scenario* scenario_find(const char* name) {
  for (size_t i = 0; i < ARRAY_SIZE(scenarios); i++) {
    if (strcmp(scenarios[i].name, name) == 0) return &scenarios[i];
  }
  return 0;
}

void scenario_print_all(void) {
  for (size_t i = 0; i < ARRAY_SIZE(scenarios); i++) {
    printf("  %-14s %s%s\n", scenarios[i].name, scenarios[i].what,
           scenarios[i].has_bug_variant ? " (variant=bug too)" : "");
  }
}
