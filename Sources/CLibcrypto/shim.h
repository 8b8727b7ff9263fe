// OpenSSL's libcrypto, for SHA-256 of backing files (the backing
// fingerprint). Only the EVP digest functions are used; they are plain
// functions in OpenSSL 3 and import into Swift as they are.
#include <openssl/evp.h>
