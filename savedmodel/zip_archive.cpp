#include <strata/core/error.h>
#include <strata/savedmodel/zip_archive.h>

#include <zlib.h>

#include <ctime>
#include <limits>

namespace strata::zip {
namespace {

// Record signatures and fixed sizes from PKWARE's APPNOTE.TXT.
constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kEndOfCentralDirectory = 0x06054b50;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndRecordSize = 22;
constexpr uint16_t kVersion = 20;       // 2.0: the version that introduced deflate and folders
constexpr uint16_t kUtf8Names = 0x800;  // general-purpose flag bit 11
constexpr uint16_t kStored = 0;
constexpr uint16_t kDeflated = 8;

void put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}
void put32(std::string& out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v & 0xffff));
  put16(out, static_cast<uint16_t>(v >> 16));
}

uint32_t crc_of(const std::string& data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  size_t done = 0;
  while (done < data.size()) {  // zlib takes uInt lengths
    uInt chunk = static_cast<uInt>(std::min<size_t>(data.size() - done, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data() + done), chunk);
    done += chunk;
  }
  return static_cast<uint32_t>(crc);
}

// MS-DOS date and time fields (local time, 2-second resolution, years from 1980).
std::pair<uint16_t, uint16_t> dos_date_time(int64_t unix_time) {
  std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm parts{};
  localtime_r(&t, &parts);
  int year = std::max(parts.tm_year + 1900, 1980);
  auto time = static_cast<uint16_t>((parts.tm_hour << 11) | (parts.tm_min << 5) | (parts.tm_sec / 2));
  auto date = static_cast<uint16_t>(((year - 1980) << 9) | ((parts.tm_mon + 1) << 5) | parts.tm_mday);
  return {date, time};
}

// Reads little-endian fields of `bytes`, failing with the archive's name instead of reading past the end.
class Reader {
 public:
  Reader(const std::string& bytes, const std::string& source) : bytes_(bytes), source_(source) {}
  uint16_t u16(size_t at) const {
    need(at, 2);
    return static_cast<uint16_t>(byte(at) | (byte(at + 1) << 8));
  }
  uint32_t u32(size_t at) const {
    need(at, 4);
    return u16(at) | (static_cast<uint32_t>(u16(at + 2)) << 16);
  }
  std::string slice(size_t at, size_t size) const {
    need(at, size);
    return bytes_.substr(at, size);
  }
  void need(size_t at, size_t size) const {
    if (at > bytes_.size() || size > bytes_.size() - at) fail("it is truncated (a record runs past the end of the file)");
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw IOError("cannot read zip archive '" + source_ + "': " + what);
  }
  size_t size() const { return bytes_.size(); }

 private:
  uint32_t byte(size_t at) const { return static_cast<unsigned char>(bytes_[at]); }
  const std::string& bytes_;
  const std::string& source_;
};

// The end-of-central-directory record is the last 22 bytes plus a comment of up to 64 KiB.
size_t find_end_record(const Reader& in) {
  if (in.size() < kEndRecordSize) in.fail("it is too short to be a zip file");
  size_t lowest = in.size() >= kEndRecordSize + 0xffff ? in.size() - kEndRecordSize - 0xffff : 0;
  for (size_t at = in.size() - kEndRecordSize + 1; at-- > lowest;)
    if (in.u32(at) == kEndOfCentralDirectory) return at;
  in.fail("no end-of-central-directory record: not a zip file, or truncated");
}

std::string inflate_member(const std::string& packed, size_t size, const std::string& name, const Reader& in) {
  std::string out(size, '\0');
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) in.fail("zlib could not start inflating member '" + name + "'");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  stream.avail_in = static_cast<uInt>(packed.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  int status = inflate(&stream, Z_FINISH);
  size_t produced = stream.total_out;
  inflateEnd(&stream);
  if (status != Z_STREAM_END || produced != size) in.fail("member '" + name + "' does not inflate to its recorded size");
  return out;
}

}  // namespace

std::string write_archive(const std::vector<Member>& members, int64_t unix_time) {
  auto [date, time] = dos_date_time(unix_time);
  std::string out, central;
  for (const auto& member : members) {
    if (member.data.size() >= std::numeric_limits<uint32_t>::max() ||
        out.size() >= std::numeric_limits<uint32_t>::max())
      throw ValueError("zip member '" + member.name + "' would need Zip64 (over 4 GiB), which is not supported");
    uint32_t crc = crc_of(member.data);
    auto offset = static_cast<uint32_t>(out.size());
    auto size = static_cast<uint32_t>(member.data.size());
    auto name_size = static_cast<uint16_t>(member.name.size());

    put32(out, kLocalHeader);
    for (uint16_t v : {kVersion, kUtf8Names, kStored, time, date}) put16(out, v);
    for (uint32_t v : {crc, size, size}) put32(out, v);
    put16(out, name_size);
    put16(out, 0);  // no extra field
    out += member.name;
    out += member.data;

    put32(central, kCentralHeader);
    for (uint16_t v : {kVersion, kVersion, kUtf8Names, kStored, time, date}) put16(central, v);
    for (uint32_t v : {crc, size, size}) put32(central, v);
    for (uint16_t v : {name_size, uint16_t{0}, uint16_t{0}, uint16_t{0}, uint16_t{0}}) put16(central, v);
    put32(central, 0100644u << 16);  // external attributes: a regular file, rw-r--r--
    put32(central, offset);
    central += member.name;
  }
  auto count = static_cast<uint16_t>(members.size());
  auto central_offset = static_cast<uint32_t>(out.size());
  out += central;
  put32(out, kEndOfCentralDirectory);
  for (uint16_t v : {uint16_t{0}, uint16_t{0}, count, count}) put16(out, v);
  put32(out, static_cast<uint32_t>(central.size()));
  put32(out, central_offset);
  put16(out, 0);  // no comment
  return out;
}

std::vector<Member> read_archive(const std::string& bytes, const std::string& source) {
  Reader in(bytes, source);
  size_t end = find_end_record(in);
  uint16_t count = in.u16(end + 10);
  uint32_t central_size = in.u32(end + 12);
  uint32_t central_offset = in.u32(end + 16);
  if (count == 0xffff || central_offset == 0xffffffff) in.fail("it is a Zip64 archive, which is not supported");
  in.need(central_offset, central_size);

  std::vector<Member> members;
  size_t at = central_offset;
  for (uint16_t i = 0; i < count; ++i) {
    if (in.u32(at) != kCentralHeader) in.fail("central directory entry " + std::to_string(i) + " is corrupt");
    uint16_t flags = in.u16(at + 8), method = in.u16(at + 10);
    uint32_t crc = in.u32(at + 16), packed_size = in.u32(at + 20), size = in.u32(at + 24);
    uint16_t name_size = in.u16(at + 28), extra_size = in.u16(at + 30), comment_size = in.u16(at + 32);
    uint32_t local = in.u32(at + 42);
    std::string name = in.slice(at + kCentralHeaderSize, name_size);
    at += kCentralHeaderSize + name_size + extra_size + comment_size;

    if (flags & 1) in.fail("member '" + name + "' is encrypted");
    if (in.u32(local) != kLocalHeader) in.fail("the local header of member '" + name + "' is corrupt");
    size_t data_at = local + kLocalHeaderSize + in.u16(local + 26) + in.u16(local + 28);
    std::string packed = in.slice(data_at, packed_size);
    std::string data;
    if (method == kStored) {
      if (packed_size != size) in.fail("stored member '" + name + "' has different packed and unpacked sizes");
      data = std::move(packed);
    } else if (method == kDeflated) {
      data = inflate_member(packed, size, name, in);
    } else {
      in.fail("member '" + name + "' uses compression method " + std::to_string(method) +
              " (only stored and deflated are supported)");
    }
    if (crc_of(data) != crc) in.fail("member '" + name + "' fails its CRC-32 check (the file is corrupt)");
    if (!name.empty() && name.back() != '/') members.push_back({std::move(name), std::move(data)});
  }
  return members;
}

}  // namespace strata::zip
