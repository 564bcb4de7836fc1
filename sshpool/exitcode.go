package sshpool

// ExitCode lets callers read the status without importing this package.
func (e *ExitError) ExitCode() int { return e.Code }
