# Embed deploy/examples/demo/*.json in the build: sr-dev --demo starts
# exactly the example specs a reader finds in the source tree, whatever
# the directory it runs from (sr_demo_<name>_json[], common/dev/).
set(SR_DEMO_GEN)
foreach(name canary failing cancelled batch)
  set(src ${PROJECT_SOURCE_DIR}/deploy/examples/demo/${name}.json)
  set(gen ${PROJECT_BINARY_DIR}/generated/sr_demo_${name}_gen.c)
  add_custom_command(
    OUTPUT ${gen}
    COMMAND ${CMAKE_COMMAND} -DIN=${src} -DOUT=${gen}
            -DNAME=sr_demo_${name}_json
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_file.cmake
    DEPENDS ${src} ${PROJECT_SOURCE_DIR}/cmake/embed_file.cmake
    COMMENT "Embedding deploy/examples/demo/${name}.json")
  list(APPEND SR_DEMO_GEN ${gen})
endforeach()
