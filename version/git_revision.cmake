# Run at build time (cmake -P): writes OUT with the source tree's git
# revision ("unknown" outside git); configure_file rewrites it only when it
# changed, so a rebuild recompiles only after a new commit.
execute_process(
  COMMAND git -C "${SRC}" describe --always --dirty --abbrev=12
  OUTPUT_VARIABLE TLBSCOPE_GIT_REVISION
  OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_QUIET
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR TLBSCOPE_GIT_REVISION STREQUAL "")
  set(TLBSCOPE_GIT_REVISION "unknown")
endif()
configure_file("${IN}" "${OUT}" @ONLY)
