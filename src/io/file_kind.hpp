#pragma once
// What kind of fanout file a path holds, told by its content (the HDF5
// signature, the journal's magic, a TOML parse), so that a command given the
// wrong kind (`fanout report run.toml`, `fanout run out.h5`) can say what it
// found and which command takes it, instead of a parse or HDF5 error.
#include <string>

namespace fanout::io {

enum class FileKind {
  Unreadable,  // missing, a directory, or cannot be read: the command's own error says so
  Hdf5,        // the HDF5 signature (a run file, or another HDF5 file)
  Journal,     // a checkpoint journal (OUTPUT.journal)
  Config,      // a TOML document with at least one key, or a *.toml file that is not one of the above
  Other,
};

FileKind file_kind(const std::string& path);

// For commands that read a config (run, validate, submit): throws ConfigError
// (exit 2) when `path` is a run file or a journal, naming the commands that take it.
void reject_if_not_config(const std::string& path);

// For commands that read run files (report, compare, predict, plot, status,
// resume): throws ConfigError (exit 2) when `path` is a config or, unless
// `journal_ok`, a journal, naming the commands that take it.
void reject_if_not_run_file(const std::string& path, bool journal_ok = false);

}  // namespace fanout::io
