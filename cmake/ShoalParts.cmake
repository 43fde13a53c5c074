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

# The layering (docs/development.md) is enforced through include paths: no part sees the
# repository root. Each part compiles against
#   - its own folder, through build/layering/self/<part>/<folder> (a link to the folder), and
#   - the headers its DEPS export: each part exports its PUBLIC_HEADERS, through
#     build/layering/public/<part>/<folder>/ (a link per header).
# ENTRY_HEADERS start a role or a service (actor.h, learner.h, replay/server.h, ...): they are
# exported by a second target, <part>_entry, that only the launcher (cluster) links. So an
# include of another part's internals, or of a part that is not in DEPS, fails to compile.
# Tests and benches see the whole tree: they test internals on purpose.
set(SHOAL_LAYERING_DIR ${CMAKE_BINARY_DIR}/layering)
# The plugin SDK as it is installed (include/shoal/, share/pkgconfig/), filled by env/.
set(SHOAL_SDK_DIR ${CMAKE_BINARY_DIR}/sdk)

# Links each of headers (names inside folder) into dir/folder/; fails on a missing header.
function(shoal_export_headers dir folder)
    file(REMOVE_RECURSE ${dir})
    file(MAKE_DIRECTORY ${dir}/${folder})
    foreach(h ${ARGN})
        set(src ${PROJECT_SOURCE_DIR}/${folder}/${h})
        if(NOT EXISTS ${src})
            message(FATAL_ERROR "${folder}: exported header ${h} does not exist")
        endif()
        file(CREATE_LINK ${src} ${dir}/${folder}/${h} SYMBOLIC)
    endforeach()
endfunction()

# shoal_part(NAME [FOLDER folder] SOURCES ... DEPS ... [PRIVATE_DEPS ...]
#            [PUBLIC_HEADERS ...] [ENTRY_HEADERS ...])
# One static library per part folder. DEPS are parts (or libraries) whose exported headers
# this part's own exported headers use; PRIVATE_DEPS are used only inside its sources.
function(shoal_part name)
    cmake_parse_arguments(P "" "FOLDER" "SOURCES;DEPS;PRIVATE_DEPS;PUBLIC_HEADERS;ENTRY_HEADERS"
                          ${ARGN})
    if(NOT P_FOLDER)
        set(P_FOLDER ${name})
    endif()
    add_library(${name} STATIC ${P_SOURCES})
    set(self ${SHOAL_LAYERING_DIR}/self/${name})
    file(REMOVE_RECURSE ${self})
    file(MAKE_DIRECTORY ${self})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${P_FOLDER} ${self}/${P_FOLDER} SYMBOLIC)
    target_include_directories(${name} PRIVATE ${self})
    set(public ${SHOAL_LAYERING_DIR}/public/${name})
    shoal_export_headers(${public} ${P_FOLDER} ${P_PUBLIC_HEADERS})
    target_include_directories(${name} INTERFACE ${public})
    if(P_ENTRY_HEADERS)
        set(entry ${SHOAL_LAYERING_DIR}/entry/${name})
        shoal_export_headers(${entry} ${P_FOLDER} ${P_ENTRY_HEADERS})
        add_library(${name}_entry INTERFACE)
        target_include_directories(${name}_entry INTERFACE ${entry})
        target_link_libraries(${name}_entry INTERFACE ${name})
    endif()
    target_compile_options(${name} PRIVATE ${SHOAL_WARNINGS})
    target_compile_definitions(${name} PUBLIC _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE)
    target_link_libraries(${name} PUBLIC ${P_DEPS})
    target_link_libraries(${name} PRIVATE ${P_PRIVATE_DEPS})
    target_link_libraries(shoal_all INTERFACE ${name})
endfunction()

# A program that tests or measures internals: it sees the whole tree and links every part.
function(shoal_internal_program name)
    target_compile_options(${name} PRIVATE ${SHOAL_WARNINGS} -Wno-missing-prototypes)
    target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} PRIVATE shoal_all proto)
endfunction()
