// Package contract validates HTTP exchanges against X's OpenAPI documents
// (testdata/reference, see internal/testref) with github.com/getkin/kin-openapi: every request
// the emulator accepted and every response it gave, with the documents made
// strict (no field they do not name), plus checks the documents cannot
// express (rate-limit headers on every answer, no undeclared query
// parameters). Where X's own documents disagree with the OpenAPI document
// (the seeds in testdata/reference/seeds), the difference is listed in Deviations
// with the seed as its reason, and counted instead of failing.
//
// scripts/test.sh records every exchange the test suites make with the
// emulator (internal/exchange) and then runs TestContractRecorded, which
// prints
//
//	contract: N exchanges, M operations, 0 violations, K documented deviations
//
// where K is the number of allow-list entries the exchanges needed (the
// test log gives how many exchanges each covered).
package contract
