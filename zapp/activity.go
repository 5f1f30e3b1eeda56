package zapp

// ActivityURL is a URL of one of a ZApp's services that says whether it is
// in use, such as Jupyter's /api/status, asked before an idle execution is
// terminated. Path is a template that may start with {proxy_path}. Shop
// manifests declare them (activity_urls); executions record them.
type ActivityURL struct {
	Service string `json:"service"`
	Port    int    `json:"port"`
	Path    string `json:"path"`
}
