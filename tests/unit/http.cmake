# tests/unit/http.cmake: one cmocka binary per HTTP module, each its own
# ctest; included by tests/CMakeLists.txt, so paths are relative to tests/.
foreach(t parse target range mime date cond)
  add_executable(test_http_${t} unit/test_http_${t}.c)
  target_link_libraries(test_http_${t} PRIVATE ferry_http PkgConfig::CMOCKA)
  add_test(NAME unit_http_${t} COMMAND test_http_${t})
  set_tests_properties(unit_http_${t} PROPERTIES TIMEOUT 30 LABELS unit)
endforeach()
