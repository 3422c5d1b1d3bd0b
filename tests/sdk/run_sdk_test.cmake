# Installs Strata from STRATA_BUILD_DIR into a scratch prefix, then builds and runs the consumer project
# against that prefix alone, as a user of the SDK would.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run_step description)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "SDK test: ${description} failed (${result}):\n${output}")
  endif()
  set(step_output "${output}" PARENT_SCOPE)
endfunction()

run_step("install" ${CMAKE_COMMAND} --install ${STRATA_BUILD_DIR} --prefix ${prefix})
foreach(header strata.h layers/dense.h models/sequential.h core/error.h)
  if(NOT EXISTS ${prefix}/include/strata/${header})
    message(FATAL_ERROR "SDK test: installed tree lacks include/strata/${header}")
  endif()
endforeach()
run_step("configure" ${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/build
         -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run_step("build" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run_step("run" ${WORK_DIR}/build/consumer)
if(NOT step_output MATCHES "consumer: trained, loss [0-9.]+ -> [0-9.]+")
  message(FATAL_ERROR "SDK test: unexpected consumer output:\n${step_output}")
endif()
message(STATUS "${step_output}")
