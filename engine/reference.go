package engine

// Doc is the reference entry of one predeclared name: `mrsk help builtins`
// and the README's table both print these.
type Doc struct {
	Name    string
	Call    string // the signature, as a flow writes the call
	Summary string // one sentence
	Group   string // what it is about, for the reference's order
}

// Reference documents the names the engine itself predeclares.
func Reference() []Doc {
	const g = "flow plumbing"
	return []Doc{
		{"parallel", `parallel(fn, items, limit=0)`, "Calls fn(item) on its own thread per item (at most limit at once), results in input order; the first error cancels the others and names its item.", g},
		{"invoke", `invoke(name, *args, **kwargs)`, "Calls the step or flow called name, the project's deploy.star first: how a project replaces a stock step.", g},
		{"defined", `defined(name)`, "Whether the project's deploy.star defines name.", g},
		{"catch", `catch(fn, *args, **kwargs)`, "Calls fn and returns struct(value, error): error is None on success; Ctrl-C is never caught.", g},
		{"reraise", `reraise(error, prefix="")`, "Raises an error from catch() again, with its original backtrace.", g},
		{"struct", `struct(**kwargs)`, "An immutable record (go.starlark.net's starlarkstruct).", g},
	}
}
