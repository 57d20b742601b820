# Script mode: writes OUT with the profile IN as one raw-string literal, so the binary
# never looks the file up at run time.
file(READ ${IN} text)
set(body "// Generated from docs/profiles/builtin.json by legacy_adapter/embed_profile.cmake. Do not edit.\n")
string(APPEND body "#include \"legacy_adapter/profile.hpp\"\n\nnamespace cutover::legacy {\n\n")
string(APPEND body "std::string_view builtin_profile_text() {\n  return R\"cutover_profile(${text})cutover_profile\";\n}\n\n")
string(APPEND body "}  // namespace cutover::legacy\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
