#include <catch2/catch.hpp>
#include <strata/core/error.h>
#include <strata/savedmodel/zip_archive.h>

#include <cstdint>

using namespace strata;
using Catch::Matchers::Contains;

namespace {
uint32_t le32(const std::string& bytes, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}
}  // namespace

TEST_CASE("zip archive: stored members round trip with the published CRC-32", "[savedmodel][zip]") {
  std::vector<zip::Member> members = {{"metadata.json", "{}"}, {"check.txt", "123456789"}, {"empty", ""}};
  std::string bytes = zip::write_archive(members, 1764072000);
  // APPNOTE layout: the first local header, its CRC at offset 14; CRC-32 of "123456789" is 0xCBF43926.
  REQUIRE(le32(bytes, 0) == 0x04034b50u);
  size_t second = 30 + 13 + 2;
  CHECK(le32(bytes, second) == 0x04034b50u);
  CHECK(le32(bytes, second + 14) == 0xCBF43926u);
  CHECK(le32(bytes, bytes.size() - 22) == 0x06054b50u);

  auto back = zip::read_archive(bytes, "m.keras");
  REQUIRE(back.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(back[i].name == members[i].name);
    CHECK(back[i].data == members[i].data);
  }
}

TEST_CASE("zip archive: reads a deflated member written by Python's zipfile", "[savedmodel][zip]") {
  // zipfile.ZipFile(..., ZIP_DEFLATED).writestr("notes/a.txt", "hello " * 4 + "hello"), 131 bytes.
  const std::string bytes(
      "\x50\x4b\x03\x04\x14\x00\x00\x00\x08\x00\x00\x60\x79\x5d\xf6\xd2\x53\x38\x0b\x00\x00\x00\x1d\x00\x00\x00"
      "\x0b\x00\x00\x00\x6e\x6f\x74\x65\x73\x2f\x61\x2e\x74\x78\x74\xcb\x48\xcd\xc9\xc9\x57\xc8\xc0\x4e\x02\x00"
      "\x50\x4b\x01\x02\x14\x03\x14\x00\x00\x00\x08\x00\x00\x60\x79\x5d\xf6\xd2\x53\x38\x0b\x00\x00\x00\x1d\x00"
      "\x00\x00\x0b\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\x00\x00\x00\x00\x6e\x6f\x74\x65\x73\x2f"
      "\x61\x2e\x74\x78\x74\x50\x4b\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00\x39\x00\x00\x00\x34\x00\x00\x00\x00"
      "\x00",
      131);
  auto members = zip::read_archive(bytes, "py.zip");
  REQUIRE(members.size() == 1);
  CHECK(members[0].name == "notes/a.txt");
  CHECK(members[0].data == "hello hello hello hello hello");
}

TEST_CASE("zip archive: corrupt and truncated archives are reported with the file name", "[savedmodel][zip]") {
  std::string bytes = zip::write_archive({{"config.json", "{\"a\": 1}"}}, 0);
  std::string flipped = bytes;
  flipped[30 + 11 + 3] ^= 0x20;  // a byte of the member's data
  CHECK_THROWS_WITH(zip::read_archive(flipped, "m.keras"), Contains("m.keras") && Contains("CRC-32"));
  CHECK_THROWS_WITH(zip::read_archive(bytes.substr(0, bytes.size() - 5), "m.keras"),
                    Contains("m.keras") && Contains("end-of-central-directory"));
  CHECK_THROWS_WITH(zip::read_archive("not a zip archive at all, just some text", "x.keras"),
                    Contains("x.keras"));
  std::string cut = bytes;
  cut.erase(20, 10);  // the end record now points past its central directory
  CHECK_THROWS_AS(zip::read_archive(cut, "m.keras"), IOError);
}
