# Writes cutover(1) from the binary's own --help texts, so the man page cannot drift from
# the code. Run as: cmake -DBIN=<cutover> -DOUT=<cutover.1> -DVERSION=<v> -P manpage.cmake
set(subcommands serve db replay publish token import)

function(roff_escape in out)
  string(REPLACE "\\" "\\e" s "${in}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" s "${s}")
  string(REPLACE "-" "\\-" s "${s}")
  set(${out} "${s}" PARENT_SCOPE)
endfunction()

execute_process(COMMAND ${BIN} --help OUTPUT_VARIABLE top RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${BIN} --help failed (${rc})")
endif()
roff_escape("${top}" top)
string(TIMESTAMP today "%Y-%m-%d" UTC)
set(page ".TH CUTOVER 1 \"${today}\" \"cutover ${VERSION}\" \"User Commands\"
.SH NAME
cutover \\- push\\-notification proxy: a legacy long\\-poll endpoint and push transports from one store, fed by Redis
.SH SYNOPSIS
.B cutover
[\\fB\\-\\-config\\fR \\fIFILE\\fR] \\fISUBCOMMAND\\fR [\\fIOPTIONS\\fR]
.SH DESCRIPTION
.nf
${top}
.fi
")
foreach(sub IN LISTS subcommands)
  execute_process(COMMAND ${BIN} ${sub} --help OUTPUT_VARIABLE text RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${BIN} ${sub} --help failed (${rc})")
  endif()
  roff_escape("${text}" text)
  string(TOUPPER "${sub}" up)
  string(APPEND page ".SH CUTOVER ${up}\n.nf\n${text}\n.fi\n")
endforeach()
string(APPEND page ".SH FILES
.TP
.I /etc/cutover/cutover.toml
settings of the service ([serve] section), every option listed and commented
.TP
.I /etc/default/cutover
environment of the service (CUTOVER_TOKEN_SECRET, CUTOVER_ADMIN_TOKEN, ...), optional
.TP
.I /var/lib/cutover/cutover.db
the notification store
.SH EXIT STATUS
0 success, 1 runtime failure, 2 usage error (see \\fBdocs/DESIGN.md\\fR \\(sc9).
.SH SEE ALSO
.BR systemctl (1),
.BR redis\\-server (1)
")
file(WRITE "${OUT}" "${page}")
