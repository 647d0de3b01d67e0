#pragma once
// A thin RAII layer over the HDF5 C API: one checked call per C function,
// handles that close themselves and never throw from a destructor, and
// exceptions (IoError) that carry HDF5's own error stack. Only src/io/ sees hid_t.
#include <cstdint>
#include <string>
#include <vector>

#include <hdf5.h>

namespace fanout::io {

// HDF5's error stack, its two innermost messages on one line, then cleared.
std::string hdf5_error_stack();
// Throw IoError("WHAT: <HDF5 error stack>") when the call failed, with the
// errno of a failed system call (a full disk: ENOSPC) as its os_error().
hid_t check_id(hid_t id, const std::string& what);
herr_t check_status(herr_t status, const std::string& what);
// Turn off HDF5's automatic printing of error stacks (for the calling
// thread); we report them ourselves.
void quiet_hdf5_errors();
// Call on the main thread before writing: once an HDF5 close has failed (a
// file whose last writes failed), the process ends without HDF5's own
// shutdown, which would crash on the object left behind (HDF5 1.10).
// create_file() calls it.
void guard_hdf5_shutdown();

class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& other) noexcept;
  ~Handle();  // closes, ignoring errors: call close() to check them
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void close(const std::string& what = "closing an HDF5 object");

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

Handle create_file(const std::string& path);      // truncates
Handle open_file_read(const std::string& path);   // read-only
Handle open_file_write(const std::string& path);  // read-write, with the bounds create_file sets
Handle create_group(hid_t loc, const std::string& name);
Handle open_group(hid_t loc, const std::string& name);
Handle open_dataset(hid_t loc, const std::string& name);
bool link_exists(hid_t loc, const std::string& name);
bool attr_exists(hid_t loc, const std::string& name);

Handle copy_type(hid_t type);
Handle fixed_string_type(std::size_t bytes);   // null-terminated UTF-8
Handle padded_string_type(std::size_t bytes);  // null-padded bytes: every byte may be text
Handle vlen_string_type();                     // for reading files of format 1.5 and older

// A 1-D dataset of n elements (file type `type`), chunked (at most 65536
// elements and at most 4 MiB a chunk), each chunk with a Fletcher-32
// checksum (since format 1.6; a damaged chunk then fails its read); compressed when
// large if `compress` (only for datasets written whole: partial writes of
// compressed chunks would rewrite them again and again).
Handle create_dataset_1d(hid_t loc, const std::string& name, hid_t type, std::uint64_t n, bool compress = true);
// A 2-D dataset of rows x columns, chunked by whole rows (about 65,536
// elements a chunk), with checksums; compressed when large if `compress`.
Handle create_dataset_2d(hid_t loc, const std::string& name, hid_t type, std::uint64_t rows, std::uint64_t columns,
                         bool compress = true);
// Writes elements (of a 2-D dataset: whole rows) first, first + stride, ...
// (count of them) from contiguous `data` (memory type `mem_type`).
void write_range(hid_t dataset, hid_t mem_type, std::uint64_t first, std::uint64_t count, const void* data,
                 std::uint64_t stride = 1);
// Reads elements (whole rows) [first, first + count) into `data`.
void read_range(hid_t dataset, hid_t mem_type, std::uint64_t first, std::uint64_t count, void* data);
// The dimensions of a dataset.
std::vector<std::uint64_t> dataset_shape(hid_t dataset);
std::uint64_t dataset_length(hid_t dataset);  // of a 1-D dataset
void read_all(hid_t dataset, hid_t mem_type, void* data);
// The message for a failed H5Dread of `dataset`, naming it: "dataset /tasks is
// damaged (checksum mismatch)..." when its Fletcher-32 checksum failed.
std::string read_failure(hid_t dataset);

// Strings are fixed-length, null-terminated UTF-8 (fixed_string_type): a
// scalar one byte longer than its value, an array one byte longer than its
// longest value (since format 1.6: variable-length strings live in HDF5's
// global heap, which has no checksum, and a damaged one crashes libhdf5).
void write_attr(hid_t loc, const std::string& name, const std::string& value);
void write_attr(hid_t loc, const std::string& name, std::int64_t value);
void write_attr(hid_t loc, const std::string& name, double value);
void write_attr(hid_t loc, const std::string& name, std::uint64_t value);
void write_attr(hid_t loc, const std::string& name, const std::vector<std::int64_t>& values);
void write_attr(hid_t loc, const std::string& name, const std::vector<double>& values);
// UTF-8 strings: a 1-D array, or with `columns` > 0 a 2-D
// array of values.size() / columns rows (values row after row).
void write_attr(hid_t loc, const std::string& name, const std::vector<std::string>& values, std::size_t columns = 0);
// Values of any type `type`: a scalar when dims is empty.
void write_attr(hid_t loc, const std::string& name, hid_t type, const std::vector<std::uint64_t>& dims,
                const void* data);
// The names of loc's attributes, in name order.
std::vector<std::string> attr_names(hid_t loc);
std::string read_string_attr(hid_t loc, const std::string& name);
// Every element of a string attribute (a 2-D one row after row).
std::vector<std::string> read_strings_attr(hid_t loc, const std::string& name);
std::vector<std::int64_t> read_int_attr(hid_t loc, const std::string& name);
double read_double_attr(hid_t loc, const std::string& name);

}  // namespace fanout::io
