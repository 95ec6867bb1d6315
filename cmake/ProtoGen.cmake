# oppmatrix_generate_protos(OUT_SRCS OUT_HDRS GRPC <bool> FILES <relative .proto>...)
# Runs protoc (and grpc_cpp_plugin when GRPC is true) over files relative to
# ${PROJECT_SOURCE_DIR}/proto, writing into ${PROJECT_BINARY_DIR}/gen.
find_program(PROTOC_EXECUTABLE protoc REQUIRED)
find_program(GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)
set(OPPMATRIX_PROTO_ROOT "${PROJECT_SOURCE_DIR}/proto")
set(OPPMATRIX_GEN_DIR "${PROJECT_BINARY_DIR}/gen")
file(MAKE_DIRECTORY "${OPPMATRIX_GEN_DIR}")

function(oppmatrix_generate_protos out_srcs out_hdrs)
  cmake_parse_arguments(ARG "GRPC" "" "FILES" ${ARGN})
  set(srcs)
  set(hdrs)
  foreach(rel IN LISTS ARG_FILES)
    get_filename_component(dir "${rel}" DIRECTORY)
    get_filename_component(stem "${rel}" NAME_WE)
    set(base "${OPPMATRIX_GEN_DIR}/${dir}/${stem}")
    if(ARG_GRPC)
      set(outputs "${base}.grpc.pb.cc" "${base}.grpc.pb.h")
      set(args --grpc_out=${OPPMATRIX_GEN_DIR}
               --plugin=protoc-gen-grpc=${GRPC_CPP_PLUGIN})
      list(APPEND srcs "${base}.grpc.pb.cc")
      list(APPEND hdrs "${base}.grpc.pb.h")
    else()
      set(outputs "${base}.pb.cc" "${base}.pb.h")
      set(args --cpp_out=${OPPMATRIX_GEN_DIR})
      list(APPEND srcs "${base}.pb.cc")
      list(APPEND hdrs "${base}.pb.h")
    endif()
    add_custom_command(
      OUTPUT ${outputs}
      COMMAND ${PROTOC_EXECUTABLE} -I${OPPMATRIX_PROTO_ROOT} ${args}
              "${OPPMATRIX_PROTO_ROOT}/${rel}"
      DEPENDS "${OPPMATRIX_PROTO_ROOT}/${rel}" ${PROTOC_EXECUTABLE}
      COMMENT "protoc ${rel}${ARG_GRPC}"
      VERBATIM)
  endforeach()
  set(${out_srcs} ${srcs} PARENT_SCOPE)
  set(${out_hdrs} ${hdrs} PARENT_SCOPE)
endfunction()
