# -DTLBSCOPE_FUZZ=ON: the libFuzzer build of tests/fuzz/ (scripts/fuzz.sh
# makes it in build-fuzz/ with clang). Everything it compiles gets ASan,
# UBSan (fatal) and libFuzzer's coverage; the fuzz targets link libFuzzer.
# Without it (the default g++ build) each target is a corpus replay test.
option(TLBSCOPE_FUZZ "build tests/fuzz as libFuzzer binaries (clang, ASan, UBSan)" OFF)
if(TLBSCOPE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang" OR NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "TLBSCOPE_FUZZ needs clang: -DCMAKE_C_COMPILER=clang "
                        "-DCMAKE_CXX_COMPILER=clang++ (scripts/fuzz.sh does it)")
  endif()
  add_compile_options(-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
