# cmake -DIN=file -DOUT=file.c [-DNAME=symbol] -P embed_file.cmake
# Writes NAME[] (NUL-terminated) and NAME_len; NAME defaults to
# sr_openapi_json.
if(NOT NAME)
  set(NAME sr_openapi_json)
endif()
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT} "/* Generated from ${IN}; do not edit. */\n#include <stddef.h>\nconst char ${NAME}[] = {\n${bytes}0x00};\nconst size_t ${NAME}_len = ${len};\n")
