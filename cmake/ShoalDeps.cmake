# Every external dependency is found here, once. A missing one stops the configure step
# with the Debian package that provides it.
find_package(PkgConfig QUIET)
if(NOT PKG_CONFIG_FOUND)
    message(FATAL_ERROR "pkg-config not found. Install it with: sudo apt-get install pkg-config")
endif()

function(shoal_require_pkg target module package)
    pkg_check_modules(${target} QUIET IMPORTED_TARGET ${module})
    if(NOT ${target}_FOUND)
        message(FATAL_ERROR "${module} not found (pkg-config module '${module}'). "
                            "Install it with: sudo apt-get install ${package}")
    endif()
endfunction()

shoal_require_pkg(ZMQ libzmq libzmq3-dev)
shoal_require_pkg(PROTOBUF_C libprotobuf-c "libprotobuf-c-dev protobuf-c-compiler")
shoal_require_pkg(INIH inih libinih-dev)
shoal_require_pkg(OPENBLAS openblas libopenblas-dev)

find_program(PROTOC_C NAMES protoc-c protoc-gen-c)
if(NOT PROTOC_C)
    message(FATAL_ERROR "protoc-c not found. Install it with: sudo apt-get install protobuf-c-compiler")
endif()

find_package(MPI QUIET COMPONENTS C)
if(NOT MPI_C_FOUND)
    message(FATAL_ERROR "MPI (C) not found. Install OpenMPI with: "
                        "sudo apt-get install libopenmpi-dev openmpi-bin")
endif()
find_program(SHOAL_MPIRUN NAMES mpirun mpiexec)
if(NOT SHOAL_MPIRUN)
    message(FATAL_ERROR "mpirun not found. Install it with: sudo apt-get install openmpi-bin")
endif()

find_package(Threads REQUIRED)

if(SHOAL_TESTS)
    pkg_check_modules(CRITERION QUIET IMPORTED_TARGET criterion)
    if(NOT CRITERION_FOUND)
        message(FATAL_ERROR "Criterion not found. Install it with: sudo apt-get install libcriterion-dev "
                            "(or configure with -DSHOAL_TESTS=OFF)")
    endif()
endif()
