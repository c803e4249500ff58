# Toolchain for the WASI build: Debian's clang-19 + lld-19 + wasi-libc.
# Objects are compiled with --target=wasm32-wasi --sysroot=/usr. The link
# line carries no -O flag on purpose: with one, the clang driver runs the
# system's old wasm-opt, which rejects newer opcodes.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR wasm32)
set(DYCE_WASI ON)
set(CMAKE_C_COMPILER clang-19)
set(CMAKE_C_COMPILER_TARGET wasm32-wasi)
set(CMAKE_SYSROOT /usr)
set(CMAKE_EXECUTABLE_SUFFIX .wasm)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_C_LINK_EXECUTABLE
    "<CMAKE_C_COMPILER> --target=wasm32-wasi --sysroot=/usr <LINK_FLAGS> <OBJECTS> -o <TARGET> <LINK_LIBRARIES> -lm")
