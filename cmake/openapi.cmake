# Embed schemas/openapi.json in the build: the gateway serves exactly the
# document the lint checks.
set(SR_OPENAPI_SRC ${PROJECT_SOURCE_DIR}/schemas/openapi.json)
set(SR_OPENAPI_GEN ${PROJECT_BINARY_DIR}/generated/sr_openapi_gen.c)
add_custom_command(
  OUTPUT ${SR_OPENAPI_GEN}
  COMMAND ${CMAKE_COMMAND} -DIN=${SR_OPENAPI_SRC} -DOUT=${SR_OPENAPI_GEN}
          -P ${PROJECT_SOURCE_DIR}/cmake/embed_file.cmake
  DEPENDS ${SR_OPENAPI_SRC} ${PROJECT_SOURCE_DIR}/cmake/embed_file.cmake
  COMMENT "Embedding schemas/openapi.json")
list(APPEND SR_GENERATED_SOURCES ${SR_OPENAPI_GEN})

# schemas/asyncapi.yaml the same way: GET /asyncapi.yaml serves exactly the
# document api.asyncapi validates.
set(SR_ASYNCAPI_SRC ${PROJECT_SOURCE_DIR}/schemas/asyncapi.yaml)
set(SR_ASYNCAPI_GEN ${PROJECT_BINARY_DIR}/generated/sr_asyncapi_gen.c)
add_custom_command(
  OUTPUT ${SR_ASYNCAPI_GEN}
  COMMAND ${CMAKE_COMMAND} -DIN=${SR_ASYNCAPI_SRC} -DOUT=${SR_ASYNCAPI_GEN}
          -DNAME=sr_asyncapi_yaml
          -P ${PROJECT_SOURCE_DIR}/cmake/embed_file.cmake
  DEPENDS ${SR_ASYNCAPI_SRC} ${PROJECT_SOURCE_DIR}/cmake/embed_file.cmake
  COMMENT "Embedding schemas/asyncapi.yaml")
list(APPEND SR_GENERATED_SOURCES ${SR_ASYNCAPI_GEN})

# The console (GET /ui/): the files of common/gateway/ui/, compiled into
# the gateway as a table of (name, Content-Type, bytes) that the route looks
# names up in (sr_ui.c). A new file is added here.
set(SR_UI_DIR ${PROJECT_SOURCE_DIR}/common/gateway/ui)
set(SR_UI_FILES index.html console.css console.js favicon.svg)
set(SR_UI_GEN ${PROJECT_BINARY_DIR}/generated/sr_ui_gen.c)
list(TRANSFORM SR_UI_FILES PREPEND ${SR_UI_DIR}/ OUTPUT_VARIABLE SR_UI_DEPS)
string(REPLACE ";" "," SR_UI_LIST "${SR_UI_FILES}")
add_custom_command(
  OUTPUT ${SR_UI_GEN}
  COMMAND ${CMAKE_COMMAND} -DDIR=${SR_UI_DIR} -DFILES=${SR_UI_LIST}
          -DOUT=${SR_UI_GEN} -P ${PROJECT_SOURCE_DIR}/cmake/embed_ui.cmake
  DEPENDS ${SR_UI_DEPS} ${PROJECT_SOURCE_DIR}/cmake/embed_ui.cmake
  COMMENT "Embedding the console (common/gateway/ui/)")
list(APPEND SR_GENERATED_SOURCES ${SR_UI_GEN})
