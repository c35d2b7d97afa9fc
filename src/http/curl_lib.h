// libcurl, loaded the first time a program fetches something.
//
// Linking libcurl directly pulls some thirty shared libraries (GSSAPI,
// LDAP, SSH, ...) into every start-up of valk, tripling the time of
// `valk -e 1`; programs that never fetch should not pay for it. The
// functions the client uses are looked up with dlopen/dlsym instead, under
// the same names, so client.cpp reads like ordinary libcurl code.
#pragma once

#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include <string>

namespace valk::http::curl {

// Loads libcurl (once). False with a message if it cannot be loaded.
bool load(std::string& err);

extern CURLcode (*global_init)(long);
extern CURLM* (*multi_init)();
extern CURLMcode (*multi_setopt)(CURLM*, CURLMoption, ...);
extern CURLMcode (*multi_socket_action)(CURLM*, curl_socket_t, int, int*);
extern CURLMcode (*multi_assign)(CURLM*, curl_socket_t, void*);
extern CURLMsg* (*multi_info_read)(CURLM*, int*);
extern CURLMcode (*multi_add_handle)(CURLM*, CURL*);
extern CURLMcode (*multi_remove_handle)(CURLM*, CURL*);
extern const char* (*multi_strerror)(CURLMcode);
extern CURL* (*easy_init)();
extern CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
extern CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
extern void (*easy_cleanup)(CURL*);
extern const char* (*easy_strerror)(CURLcode);
extern curl_slist* (*slist_append)(curl_slist*, const char*);
extern void (*slist_free_all)(curl_slist*);
extern CURLcode (*easy_pause)(CURL*, int);
extern CURLMcode (*multi_socket_all)(CURLM*, int*);

}  // namespace valk::http::curl
