// Package strictjson reads untrusted JSON the one way every parser agrees on: one value, valid
// UTF-8, no key twice in an object, even under the case folding a permissive parser matches
// field names with. Signet's gateway and its API read request bodies through it.
package strictjson
