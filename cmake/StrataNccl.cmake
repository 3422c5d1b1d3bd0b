# NCCL (GPU collectives) is optional: with STRATA_WITH_NCCL=AUTO it is built when CMake finds the CUDA runtime
# and NCCL (headers and library, e.g. under /usr/local/cuda or a pip wheel's nvidia/nccl); ON makes them
# required; OFF leaves them out. Sets STRATA_HAVE_NCCL, STRATA_NCCL_INCLUDE_DIRS and STRATA_NCCL_LIBRARIES
# (plain paths, not CUDA's imported targets, whose include directories would reach every compile command).
set(STRATA_HAVE_NCCL OFF)
if(NOT STRATA_WITH_NCCL STREQUAL "OFF")
  find_package(CUDAToolkit QUIET)
  find_path(STRATA_NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} ENV NCCL_ROOT PATH_SUFFIXES include)
  find_library(STRATA_NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${CUDAToolkit_LIBRARY_DIR} ENV NCCL_ROOT
               PATH_SUFFIXES lib lib64)
  if(CUDAToolkit_FOUND AND STRATA_NCCL_INCLUDE_DIR AND STRATA_NCCL_LIBRARY)
    set(STRATA_HAVE_NCCL ON)
    set(STRATA_NCCL_INCLUDE_DIRS ${CUDAToolkit_INCLUDE_DIRS} ${STRATA_NCCL_INCLUDE_DIR})
    set(STRATA_NCCL_LIBRARIES ${CUDA_cudart_LIBRARY} ${STRATA_NCCL_LIBRARY})
    message(STATUS "Strata: NCCL collectives ON (${STRATA_NCCL_LIBRARY})")
  elseif(STRATA_WITH_NCCL STREQUAL "ON")
    message(FATAL_ERROR "STRATA_WITH_NCCL=ON but CUDA (${CUDAToolkit_FOUND}) or NCCL (${STRATA_NCCL_INCLUDE_DIR}, "
                        "${STRATA_NCCL_LIBRARY}) was not found; set NCCL_ROOT or CUDAToolkit_ROOT")
  else()
    message(STATUS "Strata: NCCL collectives OFF (CUDA or NCCL not found)")
  endif()
endif()
