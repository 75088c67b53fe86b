# The manual pages: each from one scdoc source, docs/man/PAGE.scd, made at
# build time into build/man/manN/PAGE (for man -l and the tests) and
# PAGE.gz (installed; gzip -n, so the bytes do not depend on the time).
# The version in their footer comes from project().

option(FERRY_MAN "Build the manual pages from docs/man/*.scd (needs scdoc)" ON)
set(FERRY_MAN_PAGES ferryd.8 ferryd.conf.5 ferryctl.8 ferry.1)
set(FERRY_MAN_DIR ${CMAKE_BINARY_DIR}/man)

if(FERRY_MAN)
  find_program(SCDOC scdoc)
  if(NOT SCDOC)
    message(FATAL_ERROR "scdoc not found: contrib/deps.sh installs it "
      "(or configure with -DFERRY_MAN=OFF to build without the manual pages)")
  endif()
  set(_ferry_man_outputs)
  foreach(page ${FERRY_MAN_PAGES})
    string(REGEX REPLACE "^.*\\.([0-9])$" "\\1" section "${page}")
    # The version filled in at configure time; an edit to the source
    # re-runs the configuration, as for any configure_file().
    configure_file(${CMAKE_SOURCE_DIR}/docs/man/${page}.scd ${FERRY_MAN_DIR}/src/${page}.scd @ONLY)
    set(out ${FERRY_MAN_DIR}/man${section}/${page})
    add_custom_command(OUTPUT ${out} ${out}.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${FERRY_MAN_DIR}/man${section}
      COMMAND sh -c "\"$1\" < \"$2\" > \"$3.tmp\" && mv \"$3.tmp\" \"$3\" && gzip -9nc \"$3\" > \"$3.gz\""
        sh ${SCDOC} ${FERRY_MAN_DIR}/src/${page}.scd ${out}
      DEPENDS ${FERRY_MAN_DIR}/src/${page}.scd
      COMMENT "scdoc ${page}"
      VERBATIM)
    list(APPEND _ferry_man_outputs ${out} ${out}.gz)
  endforeach()
  add_custom_target(man ALL DEPENDS ${_ferry_man_outputs})
endif()
