#pragma once
// The input files a run reads (a command job's `file`, a sweep's CSV, a
// python job's module), each with a SHA-256 digest of its bytes: recorded in
// the run file (root attribute `inputs`) and in the checkpoint journal's
// header, so that a resume refuses to continue a run whose inputs changed.
#include <string>
#include <string_view>
#include <vector>

namespace fanout {

struct InputFile {
  std::string key;     // the config key that names it: "job.file", "sweep.file", "job.function"
  std::string path;    // absolute, as read
  std::string sha256;  // 64 lowercase hex digits of the SHA-256 of its bytes
  bool operator==(const InputFile&) const = default;
};

// SHA-256 (FIPS 180-4) of `bytes`, as 64 lowercase hex digits (what sha256sum prints).
std::string sha256_hex(std::string_view bytes);

}  // namespace fanout
