#pragma once

// ReadFileBytes moved to common/file_bytes.h (regress uses it and must not
// link the VMM). This header remains only for vmm/trap and vmm/machine,
// whose one include line the lead switches when merging issue 12; delete
// it then.
#include "common/file_bytes.h"
