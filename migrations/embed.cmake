# Embeds migrations/NNNN_*.sql into a generated C++ source at build time, so the
# binary never looks the files up at run time. Re-runs when a .sql file changes.
function(cutover_embed_migrations out_var)
  file(GLOB sql_files CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/migrations/[0-9][0-9][0-9][0-9]_*.sql)
  list(SORT sql_files)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/embedded_migrations.cpp)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} "-DFILES=${sql_files}" -P ${PROJECT_SOURCE_DIR}/migrations/embed_run.cmake
    DEPENDS ${sql_files} ${PROJECT_SOURCE_DIR}/migrations/embed_run.cmake
    COMMENT "Embedding SQL migrations"
    VERBATIM)  # FILES is a ;-list: unescaped, the shell would split the command at it
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
