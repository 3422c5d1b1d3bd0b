# The library is every .cpp of the public module folders; a new file joins on the next configure.
set(STRATA_MODULES core layers models optimizers losses metrics callbacks data savedmodel distribute)
set(STRATA_SOURCES)
foreach(module IN LISTS STRATA_MODULES)
  file(GLOB module_sources CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/${module}/*.cpp)
  list(APPEND STRATA_SOURCES ${module_sources})
endforeach()
