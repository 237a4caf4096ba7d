# cmake -DIN=file -DOUT=file.c -P embed_file.cmake
# Writes sr_openapi_json[] (NUL-terminated) and sr_openapi_json_len.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT} "/* Generated from ${IN}; do not edit. */\n#include <stddef.h>\nconst char sr_openapi_json[] = {\n${bytes}0x00};\nconst size_t sr_openapi_json_len = ${len};\n")
