# The HTTP/1.1 pure modules: parsing, targets, ranges, types, dates,
# preconditions. No I/O: worker/http.c drives them.
add_library(ferry_http STATIC worker/http_parse.c worker/http_target.c worker/http_range.c
  worker/http_mime.c worker/http_date.c worker/http_cond.c)
target_link_libraries(ferry_http PUBLIC ferry_common)
