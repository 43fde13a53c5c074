#!/bin/sh
# tests/sdk_install.sh BUILD_DIR: the environment-plugin SDK as a user meets it (ctest:
# sdk_install). Installs the build into a temporary prefix, builds the installed example plugin
# with nothing but the installed files (pkg-config shoal-plugin, then CMake's
# find_package(ShoalPlugin)), plays it with the installed shoal, and checks that a plugin built
# for another ABI version is refused. The prefix is removed on exit.
set -eu

build=${1:?usage: sdk_install.sh BUILD_DIR}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/shoal-sdk-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM
prefix=$tmp/prefix

fail() {
    echo "sdk_install: $*" >&2
    exit 1
}

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log" >&2; fail "cmake --install $build failed"; }
for f in bin/shoal include/shoal/env_plugin.h share/pkgconfig/shoal-plugin.pc \
    share/cmake/ShoalPlugin/ShoalPluginConfig.cmake share/shoal/examples/env-plugin/coin_plugin.c; do
    [ -f "$prefix/$f" ] && [ ! -L "$prefix/$f" ] || fail "not installed as a file: $f"
done

# pkg-config sees the prefix and nothing else; the example is copied out of the prefix.
export PKG_CONFIG_LIBDIR="$prefix/share/pkgconfig"
export PKG_CONFIG_PATH=
cflags=$(pkg-config --cflags shoal-plugin) || fail "pkg-config finds no shoal-plugin"
case $cflags in
*"$prefix"*) ;;
*) fail "pkg-config --cflags shoal-plugin points outside the prefix: $cflags" ;;
esac
major=$(pkg-config --variable=abi_major shoal-plugin)
minor=$(pkg-config --variable=abi_minor shoal-plugin)
grep -q "^#define SHOAL_ENV_ABI_MAJOR $major\$" "$prefix/include/shoal/env_plugin.h" ||
    fail "shoal-plugin.pc says ABI major $major, the header does not"

mkdir "$tmp/work"
cd "$tmp/work"
cp "$prefix/share/shoal/examples/env-plugin/coin_plugin.c" .
# shellcheck disable=SC2086 # cflags is a list of flags
cc -std=c11 -pedantic -Wall -Wextra -Werror $cflags -shared -fPIC -o libcoin.so coin_plugin.c ||
    fail "the installed example does not build against the installed header"

shoal=$prefix/bin/shoal
"$shoal" env list --plugin ./libcoin.so >list.txt || fail "shoal env list --plugin failed"
grep -Eq '^example/coin +1x8x2 uint8 +2 actions \(left right\)$' list.txt ||
    { cat list.txt >&2; fail "example/coin is not listed as a 1x8x2 uint8 game with 2 actions"; }

# The expert collects the 3 coins of every episode; a random walk does too, more slowly (no
# time limit), so every finished episode returns exactly 3.
"$shoal" env stats example/coin --plugin ./libcoin.so --options width=6 --policy expert \
    --episodes 20 --seed 1 --json >expert.json || fail "shoal env stats --policy expert failed"
grep -q '"episodes": 20, "mean_return": 3.000000, "se_return": 0.000000' expert.json ||
    { cat expert.json >&2; fail "expert: expected 20 episodes of return 3"; }
"$shoal" env stats example/coin --plugin ./libcoin.so --options width=6 --steps 3000 \
    --seed 2 --json >random.json || fail "shoal env stats --policy random failed"
grep -Eq '"episodes": [1-9][0-9]*, "mean_return": 3.000000' random.json ||
    { cat random.json >&2; fail "random: expected finished episodes of return 3"; }

# The same plugin built by CMake through find_package(ShoalPlugin), found in the prefix only.
mkdir cmk
cat >cmk/CMakeLists.txt <<'END'
cmake_minimum_required(VERSION 3.18)
project(coin C)
find_package(ShoalPlugin REQUIRED)
add_library(coin MODULE ${CMAKE_CURRENT_SOURCE_DIR}/../coin_plugin.c)
target_link_libraries(coin PRIVATE ShoalPlugin::headers)
target_compile_options(coin PRIVATE -Wall -Wextra -Werror)
END
cmake -S cmk -B cmk/build -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
    -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF >cmake.log 2>&1 &&
    cmake --build cmk/build >>cmake.log 2>&1 ||
    { cat cmake.log >&2; fail "find_package(ShoalPlugin) does not build the example"; }
"$shoal" env stats example/coin --plugin ./cmk/build/libcoin.so --policy expert --episodes 5 \
    --seed 3 --json >cmake.json || fail "the CMake-built plugin does not play"
grep -q '"episodes": 5, "mean_return": 3.000000' cmake.json ||
    { cat cmake.json >&2; fail "CMake-built plugin: expected 5 episodes of return 3"; }

# The same source built for the next major version is refused, naming the file and both
# versions.
sed 's/\.abi_major = SHOAL_ENV_ABI_MAJOR,/.abi_major = SHOAL_ENV_ABI_MAJOR + 1,/' coin_plugin.c \
    >next_plugin.c
! cmp -s coin_plugin.c next_plugin.c || fail "the example no longer sets .abi_major as expected"
# shellcheck disable=SC2086
cc -std=c11 $cflags -shared -fPIC -o libnext.so next_plugin.c
if "$shoal" env list --plugin ./libnext.so >next.out 2>next.err; then
    fail "a plugin built for ABI $((major + 1)).0 was loaded"
fi
grep -q "\./libnext.so: built for plugin ABI $((major + 1)).0, this shoal loads ABI $major.0 to $major.$minor" \
    next.err || { cat next.err >&2; fail "the refusal does not name the file and both versions"; }

echo "sdk_install: ok (ABI $major.$minor, prefix $prefix)"
