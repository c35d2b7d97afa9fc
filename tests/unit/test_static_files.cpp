// What the file server answers (http/static_files.h): conditional requests,
// ranges, content types, HTTP dates, and the mapping of URL paths under a root.
#include <gtest/gtest.h>

#include <string>

#include "http/static_files.h"

using namespace valk::http;

namespace {

std::string header(const FilePlan& p, const std::string& name) {
  for (auto& [n, v] : p.headers)
    if (n == name) return v;
  return "";
}

const time_t kMtime = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT

TEST(StaticFiles, HttpDatesRoundTrip) {
  EXPECT_EQ(http_date(kMtime), "Sun, 06 Nov 1994 08:49:37 GMT");
  time_t t = 0;
  ASSERT_TRUE(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", t));
  EXPECT_EQ(t, kMtime);
  EXPECT_FALSE(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", t)) << "only IMF-fixdate";
  EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT junk", t));
  EXPECT_FALSE(parse_http_date("", t));
}

TEST(StaticFiles, AWholeFile) {
  FilePlan p = plan_file(1000, kMtime, "a/b.css", "GET", {});
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(p.offset, 0);
  EXPECT_EQ(p.length, 1000);
  EXPECT_TRUE(p.send_body);
  EXPECT_EQ(header(p, "content-type"), "text/css; charset=utf-8");
  EXPECT_EQ(header(p, "content-length"), "1000");
  EXPECT_EQ(header(p, "last-modified"), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(header(p, "etag").substr(0, 3), "W/\"");
  EXPECT_EQ(header(plan_file(1000, kMtime, "x", "GET", {}, "text/x"), "content-type"), "text/x");
}

TEST(StaticFiles, HeadHasTheLengthButNoBody) {
  FilePlan p = plan_file(1000, kMtime, "a.bin", "HEAD", {});
  EXPECT_EQ(p.status, 200);
  EXPECT_EQ(header(p, "content-length"), "1000");
  EXPECT_FALSE(p.send_body);
}

TEST(StaticFiles, ConditionalRequests) {
  HeaderList same = {{"if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT"}};
  EXPECT_EQ(plan_file(10, kMtime, "a", "GET", same).status, 304);
  HeaderList older = {{"if-modified-since", "Sat, 05 Nov 1994 08:49:37 GMT"}};
  EXPECT_EQ(plan_file(10, kMtime, "a", "GET", older).status, 200);
  HeaderList junk = {{"if-modified-since", "yesterday"}};
  EXPECT_EQ(plan_file(10, kMtime, "a", "GET", junk).status, 200);
  std::string etag = header(plan_file(10, kMtime, "a", "GET", {}), "etag");
  EXPECT_EQ(plan_file(10, kMtime, "a", "GET", {{"if-none-match", etag}}).status, 304);
  EXPECT_EQ(plan_file(10, kMtime, "a", "GET", {{"if-none-match", "\"other\""}}).status, 200);
  // if-none-match wins over if-modified-since.
  EXPECT_EQ(plan_file(10, kMtime, "a", "GET", {{"if-none-match", "\"other\""}, same[0]}).status, 200);
  EXPECT_EQ(plan_file(10, kMtime, "a", "POST", same).status, 200) << "GET and HEAD only";
  EXPECT_FALSE(plan_file(10, kMtime, "a", "GET", same).send_body);
}

TEST(StaticFiles, Ranges) {
  auto plan = [](const char* range, int64_t size = 1000) {
    return plan_file(size, kMtime, "a", "GET", {{"range", range}});
  };
  FilePlan p = plan("bytes=10-19");
  EXPECT_EQ(p.status, 206);
  EXPECT_EQ(p.offset, 10);
  EXPECT_EQ(p.length, 10);
  EXPECT_EQ(header(p, "content-range"), "bytes 10-19/1000");
  EXPECT_EQ(header(p, "content-length"), "10");
  p = plan("bytes=990-");
  EXPECT_EQ(p.offset, 990);
  EXPECT_EQ(p.length, 10);
  p = plan("bytes=-100");
  EXPECT_EQ(p.offset, 900);
  EXPECT_EQ(p.length, 100);
  p = plan("bytes=-5000");
  EXPECT_EQ(p.offset, 0) << "a suffix longer than the file is the whole file";
  EXPECT_EQ(p.length, 1000);
  p = plan("bytes=500-99999");
  EXPECT_EQ(p.length, 500) << "the end is clipped to the file";
  EXPECT_EQ(plan("bytes=1000-").status, 416);
  EXPECT_EQ(header(plan("bytes=1000-"), "content-range"), "bytes */1000");
  EXPECT_EQ(plan("bytes=-0").status, 416);
  EXPECT_EQ(plan("bytes=0-0", 0).status, 416) << "nothing to send of an empty file";
  EXPECT_EQ(plan("bytes=5-1").status, 200) << "malformed: the whole file";
  EXPECT_EQ(plan("bytes=0-1,5-6").status, 200) << "several ranges: the whole file";
  EXPECT_EQ(plan("items=0-1").status, 200);
  EXPECT_EQ(plan("bytes=x-1").status, 200);
  EXPECT_EQ(plan("bytes=99999999999999999999-").status, 200) << "no overflow";
  // if-range: only for the file the client has.
  HeaderList ok = {{"range", "bytes=0-0"}, {"if-range", "Sun, 06 Nov 1994 08:49:37 GMT"}};
  EXPECT_EQ(plan_file(10, kMtime, "a", "GET", ok).status, 206);
  HeaderList stale = {{"range", "bytes=0-0"}, {"if-range", "Mon, 07 Nov 1994 08:49:37 GMT"}};
  EXPECT_EQ(plan_file(10, kMtime, "a", "GET", stale).status, 200);
}

TEST(StaticFiles, MimeTypes) {
  EXPECT_STREQ(mime_type("index.html"), "text/html; charset=utf-8");
  EXPECT_STREQ(mime_type("APP.JS"), "text/javascript; charset=utf-8");
  EXPECT_STREQ(mime_type("data.json"), "application/json");
  EXPECT_STREQ(mime_type("x.woff2"), "font/woff2");
  EXPECT_STREQ(mime_type("noext"), "application/octet-stream");
  EXPECT_STREQ(mime_type("archive.tar.gz"), "application/gzip");
}

TEST(StaticFiles, PathsStayUnderTheRoot) {
  std::string out;
  int status = 0;
  ASSERT_TRUE(static_path("/srv", "/a/b", out, status));
  EXPECT_EQ(out, "/srv/a/b");
  ASSERT_TRUE(static_path("/srv/", "///a/./b/", out, status));
  EXPECT_EQ(out, "/srv/a/b");
  ASSERT_TRUE(static_path("/srv", "", out, status));
  EXPECT_EQ(out, "/srv/");
  struct {
    const char* path;
    int status;
  } refused[] = {{"/..", 403},      {"/a/../../etc", 403}, {"/%2e%2e/x", 403}, {"/a%2Fb", 403},
                 {"/a%5cb", 403},   {"/a\\b", 403},        {"/%00", 400},      {"/%", 400},
                 {"/%4", 400},      {"/%zz", 400},         {"/a/..%2f..", 403}};
  for (auto& r : refused) {
    status = 0;
    EXPECT_FALSE(static_path("/srv", r.path, out, status)) << r.path;
    EXPECT_EQ(status, r.status) << r.path;
  }
}

}  // namespace
