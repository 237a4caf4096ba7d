# cmake/schemas.cmake - embed schemas/*.avsc in the build.
#
# Generates ${PROJECT_BINARY_DIR}/generated/sr_schemas_gen.{c,h} from
# schemas/registry.tsv (lines "<id>\t<file>") and the .avsc files it names:
# a const table of { id, full name, file, JSON text }. Editing the registry,
# any .avsc or the generator regenerates it. Sets SR_GENERATED_SOURCES for
# the top-level CMakeLists.txt, which adds it to sr_common.

set(SR_SCHEMAS_DIR ${PROJECT_SOURCE_DIR}/schemas)
set(SR_SCHEMAS_GEN_DIR ${PROJECT_BINARY_DIR}/generated)
file(GLOB SR_SCHEMA_FILES CONFIGURE_DEPENDS ${SR_SCHEMAS_DIR}/*.avsc)

add_custom_command(
  OUTPUT ${SR_SCHEMAS_GEN_DIR}/sr_schemas_gen.c
         ${SR_SCHEMAS_GEN_DIR}/sr_schemas_gen.h
  COMMAND ${CMAKE_COMMAND}
          -DSR_SCHEMAS_DIR=${SR_SCHEMAS_DIR}
          -DSR_SCHEMAS_GEN_DIR=${SR_SCHEMAS_GEN_DIR}
          -P ${PROJECT_SOURCE_DIR}/cmake/gen_schemas.cmake
  DEPENDS ${SR_SCHEMAS_DIR}/registry.tsv ${SR_SCHEMA_FILES}
          ${PROJECT_SOURCE_DIR}/cmake/gen_schemas.cmake
  COMMENT "Generating built-in Avro schema table from schemas/"
  VERBATIM)

set(SR_GENERATED_SOURCES
  ${SR_SCHEMAS_GEN_DIR}/sr_schemas_gen.c
  ${SR_SCHEMAS_GEN_DIR}/sr_schemas_gen.h)
