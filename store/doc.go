// Package store declares Signet's records, its sentinel errors and the Store
// interface every storage backend implements. One credentials table holds all
// three credential kinds; store/storetest is the conformance suite.
package store
