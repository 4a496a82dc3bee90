package keystore

// notFound is the ErrNotFound of a lookup that misses often on a hot path
// (a sync looks up pending actions and index entries for every event it
// stores): the same message as fmt.Errorf("%w: what name"), formatted
// only when read.
type notFound struct{ what, name string }

func (e *notFound) Error() string { return ErrNotFound.Error() + ": " + e.what + " " + e.name }

func (e *notFound) Unwrap() error { return ErrNotFound }
