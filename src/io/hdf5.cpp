#include "io/hdf5.hpp"

#include <dlfcn.h>
#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "core/error.hpp"

namespace fanout::io {
namespace {

struct StackText {
  std::string text;
  int os_error = 0;
};

// One HDF5 error description, on one line. A failed system call of a file
// driver ("file write failed: time = ..., filename = '...', file descriptor
// = 17, errno = 28, error message = 'No space left on device', buf = ...")
// becomes its first words and the system's message ("file write failed: No
// space left on device"), and its errno is kept.
std::string one_line(std::string desc, int& os_error) {
  if (auto at = desc.find("errno = "); at != std::string::npos) {
    int number = std::atoi(desc.c_str() + at + 8);
    if (number > 0) {
      if (os_error == 0) os_error = number;
      std::size_t cut = at;
      for (const char* details : {": time = ", ": name = ", ", errno = "}) cut = std::min(cut, desc.find(details));
      desc = desc.substr(0, cut) + ": " + std::strerror(number);
    }
  }
  for (char& c : desc)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return desc;
}

StackText take_error_stack() {
  struct Walk {
    std::vector<std::string> lines;
    int os_error = 0;
  } walk;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
        auto* out = static_cast<Walk*>(data);
        out->lines.push_back(std::string(e->func_name ? e->func_name : "?") + ": " +
                             one_line(e->desc ? e->desc : "", out->os_error));
        return 0;
      },
      &walk);
  H5Eclear2(H5E_DEFAULT);
  // Upward: the innermost cause first. Keep the two most specific lines.
  StackText out;
  for (std::size_t i = 0; i < std::min<std::size_t>(walk.lines.size(), 2); ++i)
    out.text += (i ? "; " : "") + walk.lines[i];
  if (out.text.empty()) out.text = "no HDF5 error message";
  out.os_error = walk.os_error;
  return out;
}

[[noreturn]] void throw_hdf5_error(const std::string& what) {
  StackText stack = take_error_stack();
  throw IoError(what + ": " + stack.text, stack.os_error);
}

// HDF5 1.10 frees an object whose close failed (a file whose last writes
// failed on a full disk, say) but keeps its id; its shutdown at exit (in
// MPI_Finalize, or atexit) closes that id again and crashes (SIGSEGV in
// H5F__close_cb). Once a close has failed, fanout ends without HDF5's
// shutdown: the files it wrote are committed or given up by then, and the
// system frees what is left.
std::atomic<bool> g_close_failed{false};

// H5_libinit_g is HDF5's "the library is initialised" flag (H5private.h,
// exported); H5_term_library returns at once without it. Not found (a
// thread-safe HDF5 keeps it elsewhere): HDF5 shuts down as usual.
void skip_hdf5_shutdown_after_failed_close() {
  if (!g_close_failed.load()) return;
  if (void* initialised = dlsym(RTLD_DEFAULT, "H5_libinit_g")) std::memset(initialised, 0, sizeof(hbool_t));
}

int before_hdf5_shutdown(MPI_Comm, int, void*, void*) {
  skip_hdf5_shutdown_after_failed_close();
  return MPI_SUCCESS;
}

void note_close(herr_t status) {
  if (status < 0) g_close_failed.store(true);
}

}  // namespace

void guard_hdf5_shutdown() {
  static bool armed = false;
  if (armed) return;
  armed = true;
  H5open();  // HDF5 sets its own hooks first (MPI_COMM_SELF attribute, atexit)
  // Run before them: MPI_Finalize deletes MPI_COMM_SELF's attributes in the
  // reverse order of their setting (MPI 3.1, 8.7.1), and exit calls atexit
  // functions in the reverse order of their registration.
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  if (initialised && !finalised) {
    int key = MPI_KEYVAL_INVALID;
    if (MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, before_hdf5_shutdown, &key, nullptr) == MPI_SUCCESS) {
      MPI_Comm_set_attr(MPI_COMM_SELF, key, nullptr);
      MPI_Comm_free_keyval(&key);
    }
  }
  std::atexit(skip_hdf5_shutdown_after_failed_close);
}

std::string hdf5_error_stack() { return take_error_stack().text; }

hid_t check_id(hid_t id, const std::string& what) {
  if (id < 0) throw_hdf5_error(what);
  return id;
}

herr_t check_status(herr_t status, const std::string& what) {
  if (status < 0) throw_hdf5_error(what);
  return status;
}

void quiet_hdf5_errors() {
  // Per thread in a thread-safe HDF5 (rank 0 writes on a thread of its own).
  thread_local bool quiet = false;
  if (quiet) return;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  quiet = true;
}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    if (id_ >= 0 && closer_) note_close(closer_(id_));
    id_ = other.id_;
    closer_ = other.closer_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

Handle::~Handle() {
  if (id_ >= 0 && closer_) {
    note_close(closer_(id_));
    H5Eclear2(H5E_DEFAULT);
  }
}

void Handle::close(const std::string& what) {
  if (id_ < 0) return;
  hid_t id = id_;
  id_ = H5I_INVALID_HID;
  herr_t status = closer_(id);
  note_close(status);
  check_status(status, what);
}

namespace {
// File access without HDF5's own file locks (flock). On NFS, Lustre, DVS or
// ZFS mounts without lock support flock fails (ENOLCK, ENOTSUP) and HDF5
// 1.10 then refuses to open or create any file ("unable to lock file").
// fanout does not need those locks: it writes under a temporary name that it
// renames once complete, and its journal keeps a second run off the same
// output. Readers (report, status, plot) then also read a file that another
// process holds open. HDF5 itself lets HDF5_USE_FILE_LOCKING=TRUE (or
// BEST_EFFORT) override this property, for sites that want the locks.
Handle file_access() {
  Handle fapl{check_id(H5Pcreate(H5P_FILE_ACCESS), "cannot create a file access property list"), H5Pclose};
  check_status(H5Pset_file_locking(fapl.get(), false, true), "cannot turn off HDF5 file locking");
  return fapl;
}

// The object format of HDF5 1.8 on: it stores attributes larger than 64 KiB
// (a long [job] array in /job), which the 1.6 format cannot.
Handle writer_access() {
  Handle fapl = file_access();
  check_status(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_LATEST), "H5Pset_libver_bounds");
  return fapl;
}
}  // namespace

Handle create_file(const std::string& path) {
  guard_hdf5_shutdown();
  Handle fapl = writer_access();
  return {check_id(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), "cannot create " + path), H5Fclose};
}

Handle open_file_write(const std::string& path) {
  Handle fapl = writer_access();
  return {check_id(H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get()), "cannot open " + path + " for writing"), H5Fclose};
}

Handle open_file_read(const std::string& path) {
  Handle fapl = file_access();
  return {check_id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), "cannot open " + path), H5Fclose};
}

Handle create_group(hid_t loc, const std::string& name) {
  return {check_id(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "cannot create group " + name),
          H5Gclose};
}

Handle open_group(hid_t loc, const std::string& name) {
  return {check_id(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), "cannot open group " + name), H5Gclose};
}

Handle open_dataset(hid_t loc, const std::string& name) {
  return {check_id(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), "cannot open dataset " + name), H5Dclose};
}

bool link_exists(hid_t loc, const std::string& name) {
  return check_status(H5Lexists(loc, name.c_str(), H5P_DEFAULT), "cannot look up " + name) > 0;
}

bool attr_exists(hid_t loc, const std::string& name) {
  return check_status(H5Aexists(loc, name.c_str()), "cannot look up attribute " + name) > 0;
}

Handle copy_type(hid_t type) { return {check_id(H5Tcopy(type), "H5Tcopy"), H5Tclose}; }

Handle fixed_string_type(std::size_t bytes) {
  Handle t = copy_type(H5T_C_S1);
  check_status(H5Tset_size(t.get(), bytes), "H5Tset_size");
  check_status(H5Tset_strpad(t.get(), H5T_STR_NULLTERM), "H5Tset_strpad");
  check_status(H5Tset_cset(t.get(), H5T_CSET_UTF8), "H5Tset_cset");
  return t;
}

Handle padded_string_type(std::size_t bytes) {
  Handle t = copy_type(H5T_C_S1);
  check_status(H5Tset_size(t.get(), bytes), "H5Tset_size");
  check_status(H5Tset_strpad(t.get(), H5T_STR_NULLPAD), "H5Tset_strpad");
  return t;
}

Handle vlen_string_type() {
  Handle t = copy_type(H5T_C_S1);
  check_status(H5Tset_size(t.get(), H5T_VARIABLE), "H5Tset_size");
  check_status(H5Tset_cset(t.get(), H5T_CSET_UTF8), "H5Tset_cset");
  return t;
}

namespace {
// Every chunk gets a Fletcher-32 checksum (since format 1.6), after any
// compression, so that a damaged chunk fails its read instead of reading as
// other numbers.
void add_checksum(hid_t props) { check_status(H5Pset_fletcher32(props), "H5Pset_fletcher32"); }

// A dataset's chunk cache holds CACHED_CHUNKS chunks (HDF5's default is 1
// MiB, less than one chunk of /tasks): results arrive out of id order, and a
// chunk that leaves the cache half written is read back, checked and
// rewritten, with its checksum, for every later piece of it.
constexpr std::size_t CACHED_CHUNKS = 8;
constexpr std::size_t CACHE_SLOTS = 1601;  // a prime, about 100 per cached chunk
Handle chunk_cache(std::size_t chunk_bytes) {
  Handle access{check_id(H5Pcreate(H5P_DATASET_ACCESS), "H5Pcreate"), H5Pclose};
  std::size_t bytes = std::max<std::size_t>(CACHED_CHUNKS * chunk_bytes, std::size_t{1} << 20);
  // w0 = 1: chunks written whole leave the cache first.
  check_status(H5Pset_chunk_cache(access.get(), CACHE_SLOTS, bytes, 1.0), "H5Pset_chunk_cache");
  return access;
}
}  // namespace

Handle create_dataset_1d(hid_t loc, const std::string& name, hid_t type, std::uint64_t n, bool compress) {
  hsize_t dims[1] = {n};
  Handle space{check_id(H5Screate_simple(1, dims, nullptr), "H5Screate_simple"), H5Sclose};
  Handle props{check_id(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"), H5Pclose};
  constexpr hsize_t CHUNK = 65536;
  constexpr hsize_t CHUNK_BYTES = 4 << 20;
  std::size_t per_chunk_bytes = 0;
  if (n > 0) {
    hsize_t per_chunk = std::clamp<hsize_t>(CHUNK_BYTES / std::max<std::size_t>(1, H5Tget_size(type)), 1, CHUNK);
    hsize_t chunk[1] = {std::min<hsize_t>(n, per_chunk)};
    per_chunk_bytes = chunk[0] * H5Tget_size(type);
    check_status(H5Pset_chunk(props.get(), 1, chunk), "H5Pset_chunk");
    if (compress && n > 1024) check_status(H5Pset_deflate(props.get(), 4), "H5Pset_deflate");
    add_checksum(props.get());
  }
  Handle access = chunk_cache(n > 0 ? per_chunk_bytes : 0);
  return {check_id(H5Dcreate2(loc, name.c_str(), type, space.get(), H5P_DEFAULT, props.get(), access.get()),
                   "cannot create dataset " + name),
          H5Dclose};
}

Handle create_dataset_2d(hid_t loc, const std::string& name, hid_t type, std::uint64_t rows, std::uint64_t columns,
                         bool compress) {
  hsize_t dims[2] = {rows, columns};
  Handle space{check_id(H5Screate_simple(2, dims, nullptr), "H5Screate_simple"), H5Sclose};
  Handle props{check_id(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"), H5Pclose};
  constexpr hsize_t CHUNK = 65536;
  std::size_t per_chunk_bytes = 0;
  if (rows > 0 && columns > 0) {
    hsize_t chunk[2] = {std::clamp<hsize_t>(CHUNK / columns, 1, rows), columns};
    check_status(H5Pset_chunk(props.get(), 2, chunk), "H5Pset_chunk");
    if (compress && rows * columns > 1024) check_status(H5Pset_deflate(props.get(), 4), "H5Pset_deflate");
    add_checksum(props.get());
    per_chunk_bytes = chunk[0] * columns * H5Tget_size(type);
  }
  Handle access = chunk_cache(per_chunk_bytes);
  return {check_id(H5Dcreate2(loc, name.c_str(), type, space.get(), H5P_DEFAULT, props.get(), access.get()),
                   "cannot create dataset " + name),
          H5Dclose};
}

std::vector<std::uint64_t> dataset_shape(hid_t dataset) {
  Handle space{check_id(H5Dget_space(dataset), "H5Dget_space"), H5Sclose};
  int rank = check_status(H5Sget_simple_extent_ndims(space.get()), "H5Sget_simple_extent_ndims");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  check_status(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), "H5Sget_simple_extent_dims");
  return {dims.begin(), dims.end()};
}

namespace {
// Selects elements (of a 2-D dataset: whole rows) first, first + stride, ...
// in the file; returns the matching contiguous memory space.
Handle select_rows(hid_t dataset, const Handle& file_space, std::uint64_t first, std::uint64_t count,
                   std::uint64_t stride) {
  auto shape = dataset_shape(dataset);
  if (shape.empty() || shape.size() > 2) throw IoError("expected a 1-D or 2-D dataset");
  hsize_t start[2] = {first, 0};
  hsize_t steps[2] = {stride, 1};
  hsize_t n[2] = {count, shape.size() == 2 ? shape[1] : 1};
  int rank = static_cast<int>(shape.size());
  check_status(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, steps, n, nullptr), "H5Sselect_hyperslab");
  return {check_id(H5Screate_simple(rank, n, nullptr), "H5Screate_simple"), H5Sclose};
}
}  // namespace

void write_range(hid_t dataset, hid_t mem_type, std::uint64_t first, std::uint64_t count, const void* data,
                 std::uint64_t stride) {
  if (count == 0) return;
  quiet_hdf5_errors();
  Handle file_space{check_id(H5Dget_space(dataset), "H5Dget_space"), H5Sclose};
  Handle mem_space = select_rows(dataset, file_space, first, count, stride);
  check_status(H5Dwrite(dataset, mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, data), "H5Dwrite");
}

void read_range(hid_t dataset, hid_t mem_type, std::uint64_t first, std::uint64_t count, void* data) {
  if (count == 0) return;
  Handle file_space{check_id(H5Dget_space(dataset), "H5Dget_space"), H5Sclose};
  Handle mem_space = select_rows(dataset, file_space, first, count, 1);
  if (H5Dread(dataset, mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, data) < 0)
    throw IoError(read_failure(dataset));
}

std::uint64_t dataset_length(hid_t dataset) {
  auto shape = dataset_shape(dataset);
  if (shape.size() != 1) throw IoError("expected a 1-D dataset");
  return shape[0];
}

void read_all(hid_t dataset, hid_t mem_type, void* data) {
  if (H5Dread(dataset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) throw IoError(read_failure(dataset));
}

namespace {
void write_attr_raw(hid_t loc, const std::string& name, hid_t type, hid_t space, const void* data) {
  if (attr_exists(loc, name)) check_status(H5Adelete(loc, name.c_str()), "cannot replace attribute " + name);
  Handle attr{
      check_id(H5Acreate2(loc, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), "cannot create attribute " + name),
      H5Aclose};
  check_status(H5Awrite(attr.get(), type, data), "cannot write attribute " + name);
  attr.close("closing attribute " + name);
}

Handle scalar_space() { return {check_id(H5Screate(H5S_SCALAR), "H5Screate"), H5Sclose}; }

Handle open_attr(hid_t loc, const std::string& name) {
  return {check_id(H5Aopen(loc, name.c_str(), H5P_DEFAULT), "missing attribute " + name), H5Aclose};
}
}  // namespace

void write_attr(hid_t loc, const std::string& name, const std::string& value) {
  Handle type = fixed_string_type(value.size() + 1);
  Handle space = scalar_space();
  write_attr_raw(loc, name, type.get(), space.get(), value.c_str());
}

void write_attr(hid_t loc, const std::string& name, std::int64_t value) {
  Handle space = scalar_space();
  write_attr_raw(loc, name, H5T_NATIVE_INT64, space.get(), &value);
}

void write_attr(hid_t loc, const std::string& name, double value) {
  Handle space = scalar_space();
  write_attr_raw(loc, name, H5T_NATIVE_DOUBLE, space.get(), &value);
}

void write_attr(hid_t loc, const std::string& name, std::uint64_t value) {
  Handle space = scalar_space();
  write_attr_raw(loc, name, H5T_NATIVE_UINT64, space.get(), &value);
}

void write_attr(hid_t loc, const std::string& name, const std::vector<std::int64_t>& values) {
  hsize_t dims[1] = {values.size()};
  Handle space{check_id(H5Screate_simple(1, dims, nullptr), "H5Screate_simple"), H5Sclose};
  write_attr_raw(loc, name, H5T_NATIVE_INT64, space.get(), values.data());
}

void write_attr(hid_t loc, const std::string& name, const std::vector<double>& values) {
  hsize_t dims[1] = {values.size()};
  Handle space{check_id(H5Screate_simple(1, dims, nullptr), "H5Screate_simple"), H5Sclose};
  write_attr_raw(loc, name, H5T_NATIVE_DOUBLE, space.get(), values.data());
}

void write_attr(hid_t loc, const std::string& name, const std::vector<std::string>& values, std::size_t columns) {
  std::size_t width = 1;  // the longest value and its terminating null
  for (const auto& v : values) width = std::max(width, v.size() + 1);
  std::vector<char> bytes(values.size() * width, '\0');
  for (std::size_t i = 0; i < values.size(); ++i)
    std::copy(values[i].begin(), values[i].end(), bytes.begin() + i * width);
  hsize_t dims[2] = {values.size(), columns};
  if (columns > 0) dims[0] = values.size() / columns;
  Handle space{check_id(H5Screate_simple(columns > 0 ? 2 : 1, dims, nullptr), "H5Screate_simple"), H5Sclose};
  Handle type = fixed_string_type(width);
  write_attr_raw(loc, name, type.get(), space.get(), bytes.data());
}

void write_attr(hid_t loc, const std::string& name, hid_t type, const std::vector<std::uint64_t>& dims,
                const void* data) {
  std::vector<hsize_t> extent(dims.begin(), dims.end());
  Handle space = dims.empty()
                     ? scalar_space()
                     : Handle{check_id(H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr),
                                       "H5Screate_simple"),
                              H5Sclose};
  write_attr_raw(loc, name, type, space.get(), data);
}

std::vector<std::string> attr_names(hid_t loc) {
  std::vector<std::string> names;
  hsize_t at = 0;
  auto collect = [](hid_t, const char* name, const H5A_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  check_status(H5Aiterate2(loc, H5_INDEX_NAME, H5_ITER_INC, &at, collect, &names), "H5Aiterate2");
  return names;
}

std::string read_string_attr(hid_t loc, const std::string& name) {
  Handle attr = open_attr(loc, name);
  Handle file_type{check_id(H5Aget_type(attr.get()), "H5Aget_type"), H5Tclose};
  if (H5Tget_class(file_type.get()) != H5T_STRING) throw IoError("attribute " + name + " is not a string");
  if (H5Tis_variable_str(file_type.get()) > 0) {
    Handle type = vlen_string_type();
    char* p = nullptr;
    check_status(H5Aread(attr.get(), type.get(), &p), "cannot read attribute " + name);
    std::string value = p ? p : "";
    H5free_memory(p);
    return value;
  }
  // Read as stored (null-terminated or null-padded), no conversion: the value ends at its first null.
  std::size_t size = H5Tget_size(file_type.get());
  std::string value(size, '\0');
  check_status(H5Aread(attr.get(), file_type.get(), value.data()), "cannot read attribute " + name);
  value.resize(value.find('\0') == std::string::npos ? size : value.find('\0'));
  return value;
}

std::vector<std::string> read_strings_attr(hid_t loc, const std::string& name) {
  Handle attr = open_attr(loc, name);
  Handle file_type{check_id(H5Aget_type(attr.get()), "H5Aget_type"), H5Tclose};
  if (H5Tget_class(file_type.get()) != H5T_STRING) throw IoError("attribute " + name + " is not a string");
  Handle space{check_id(H5Aget_space(attr.get()), "H5Aget_space"), H5Sclose};
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0) throw IoError("cannot size attribute " + name);
  std::vector<std::string> values(static_cast<std::size_t>(n));
  if (H5Tis_variable_str(file_type.get()) > 0) {
    Handle type = vlen_string_type();
    std::vector<char*> p(values.size(), nullptr);
    check_status(H5Aread(attr.get(), type.get(), p.data()), "cannot read attribute " + name);
    for (std::size_t i = 0; i < p.size(); ++i) {
      values[i] = p[i] ? p[i] : "";
      H5free_memory(p[i]);
    }
    return values;
  }
  std::size_t size = H5Tget_size(file_type.get());
  std::vector<char> buffer(values.size() * size);
  Handle type = fixed_string_type(size);
  check_status(H5Aread(attr.get(), type.get(), buffer.data()), "cannot read attribute " + name);
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::string_view v(buffer.data() + i * size, size);
    values[i] = v.substr(0, v.find('\0'));
  }
  return values;
}

std::vector<std::int64_t> read_int_attr(hid_t loc, const std::string& name) {
  Handle attr = open_attr(loc, name);
  Handle space{check_id(H5Aget_space(attr.get()), "H5Aget_space"), H5Sclose};
  hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0) throw IoError("cannot size attribute " + name);
  // fanout's integer attributes hold one or two values; a damaged dataspace may claim billions.
  constexpr hssize_t MAX_INT_ATTR_VALUES = 1 << 16;
  if (n > MAX_INT_ATTR_VALUES)
    throw IoError("attribute " + name + " claims " + std::to_string(n) + " values; expected at most " +
                  std::to_string(MAX_INT_ATTR_VALUES) + " (the file is damaged)");
  std::vector<std::int64_t> values(static_cast<std::size_t>(n));
  check_status(H5Aread(attr.get(), H5T_NATIVE_INT64, values.data()), "cannot read attribute " + name);
  return values;
}

double read_double_attr(hid_t loc, const std::string& name) {
  Handle attr = open_attr(loc, name);
  double value = 0;
  check_status(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &value), "cannot read attribute " + name);
  return value;
}

namespace {
// Walks HDF5's error stack (without clearing it) for the Fletcher-32 filter's
// "data error detected by Fletcher32 checksum".
bool checksum_failed() {
  bool found = false;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned, const H5E_error2_t* e, void* data) -> herr_t {
        std::string desc = e->desc ? e->desc : "";
        std::string func = e->func_name ? e->func_name : "";
        if (desc.find("Fletcher32") != std::string::npos || func.find("fletcher32") != std::string::npos)
          *static_cast<bool*>(data) = true;
        return 0;
      },
      &found);
  return found;
}

std::string object_name(hid_t id) {
  ssize_t n = H5Iget_name(id, nullptr, 0);
  if (n <= 0) return "?";
  std::string name(static_cast<std::size_t>(n) + 1, '\0');
  H5Iget_name(id, name.data(), name.size());
  name.resize(static_cast<std::size_t>(n));
  return name;
}
}  // namespace

std::string read_failure(hid_t dataset) {
  // Look at the error stack before any other HDF5 call clears it.
  bool checksum = checksum_failed();
  std::string stack = hdf5_error_stack();
  std::string name = object_name(dataset);
  H5Eclear2(H5E_DEFAULT);
  if (checksum) return "dataset " + name + " is damaged (checksum mismatch): its data is not what was written";
  return "cannot read dataset " + name + ": " + stack;
}

}  // namespace fanout::io
