# Compile options shared by every target, and the functions that declare parts and tests.

set(SHOAL_WARNINGS -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes)
# No code reads errno after a math call; without this GCC cannot vectorize sqrtf (nn/optim.c).
add_compile_options(-fno-math-errno)
set(SHOAL_SAN_FLAGS "")
if(SHOAL_SANITIZE)
    set(SHOAL_SAN_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
    add_compile_options(${SHOAL_SAN_FLAGS})
    add_link_options(${SHOAL_SAN_FLAGS})
endif()

# All part libraries, so tests and benches can link "everything" without naming each part.
add_library(shoal_all INTERFACE)

# shoal_part(NAME SOURCES ... DEPS ...): one static library per part folder.
function(shoal_part name)
    cmake_parse_arguments(P "" "" "SOURCES;DEPS" ${ARGN})
    add_library(${name} STATIC ${P_SOURCES})
    target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
    target_compile_options(${name} PRIVATE ${SHOAL_WARNINGS})
    target_compile_definitions(${name} PUBLIC _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
    target_link_libraries(${name} PUBLIC ${P_DEPS})
    target_link_libraries(shoal_all INTERFACE ${name})
endfunction()
