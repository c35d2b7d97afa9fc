#include "http/curl_lib.h"

#include <dlfcn.h>

namespace valk::http::curl {

CURLcode (*global_init)(long);
CURLM* (*multi_init)();
CURLMcode (*multi_setopt)(CURLM*, CURLMoption, ...);
CURLMcode (*multi_socket_action)(CURLM*, curl_socket_t, int, int*);
CURLMcode (*multi_assign)(CURLM*, curl_socket_t, void*);
CURLMsg* (*multi_info_read)(CURLM*, int*);
CURLMcode (*multi_add_handle)(CURLM*, CURL*);
CURLMcode (*multi_remove_handle)(CURLM*, CURL*);
const char* (*multi_strerror)(CURLMcode);
CURL* (*easy_init)();
CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
void (*easy_cleanup)(CURL*);
const char* (*easy_strerror)(CURLcode);
curl_slist* (*slist_append)(curl_slist*, const char*);
void (*slist_free_all)(curl_slist*);
CURLcode (*easy_pause)(CURL*, int);
CURLMcode (*multi_socket_all)(CURLM*, int*);

bool load(std::string& err) {
  static bool loaded = false;
  if (loaded) return true;
  void* lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = dlerror();
    err = std::string("cannot load libcurl (install libcurl4): ") + (e ? e : "unknown error");
    return false;
  }
  bool ok = true;
  auto sym = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
    if (!fn) {
      ok = false;
      err = std::string("libcurl lacks ") + name;
    }
  };
  sym(global_init, "curl_global_init");
  sym(multi_init, "curl_multi_init");
  sym(multi_setopt, "curl_multi_setopt");
  sym(multi_socket_action, "curl_multi_socket_action");
  sym(multi_assign, "curl_multi_assign");
  sym(multi_info_read, "curl_multi_info_read");
  sym(multi_add_handle, "curl_multi_add_handle");
  sym(multi_remove_handle, "curl_multi_remove_handle");
  sym(multi_strerror, "curl_multi_strerror");
  sym(easy_init, "curl_easy_init");
  sym(easy_setopt, "curl_easy_setopt");
  sym(easy_getinfo, "curl_easy_getinfo");
  sym(easy_cleanup, "curl_easy_cleanup");
  sym(easy_strerror, "curl_easy_strerror");
  sym(slist_append, "curl_slist_append");
  sym(slist_free_all, "curl_slist_free_all");
  sym(easy_pause, "curl_easy_pause");
  sym(multi_socket_all, "curl_multi_socket_all");
  loaded = ok;
  return ok;
}

}  // namespace valk::http::curl
