# Cross build for 64-bit Arm Linux with Debian's g++-aarch64-linux-gnu and the
# arm64 -dev packages installed beside the host's (Debian multiarch:
# scripts/setup.sh installs them). Tests run under qemu-aarch64 through
# CMake's cross-compiling emulator; the environment variable QEMU_CPU picks
# the emulated CPU ("max": NEON, FP16, dot product, i8mm, SVE2; "cortex-a53":
# NEON without the dot product), read by qemu itself. The arm64 libc is
# Debian's multiarch one (/lib/ld-linux-aarch64.so.1), so no -L is needed.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# pkg-config must see the arm64 .pc files only.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64)
