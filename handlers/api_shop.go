package handlers

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/zoe-analytics/zoe/shop"
	"github.com/zoe-analytics/zoe/zapp"
)

type apiZAppJSON struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Category string   `json:"category"`
	Summary  string   `json:"summary"`
	Labels   []string `json:"labels"`
	// The rest is filled in only by GET /shop/{zapp}.
	ReadmeHTML  string             `json:"readme_html,omitempty"`
	Parameters  []apiParameterJSON `json:"parameters,omitempty"`
	Services    []apiZAppService   `json:"services,omitempty"`
	Description *zapp.Description  `json:"description,omitempty"`
}

type apiParameterJSON struct {
	Key          string  `json:"key"`
	Kind         string  `json:"kind"`
	Name         string  `json:"name"`
	ReadableName string  `json:"readable_name"`
	Description  string  `json:"description"`
	Type         string  `json:"type"`
	Default      *string `json:"default"`
	Min          *int64  `json:"min,omitempty"`
	Max          *int64  `json:"max,omitempty"`
	Step         *int64  `json:"step,omitempty"`
}

type apiZAppService struct {
	Name           string         `json:"name"`
	Image          string         `json:"image"`
	Monitor        bool           `json:"monitor"`
	EssentialCount int            `json:"essential_count"`
	TotalCount     int            `json:"total_count"`
	Memory         apiRangeMemory `json:"memory"`
	Cores          apiRangeCores  `json:"cores"`
	Ports          []string       `json:"ports"`
}

type apiRangeMemory struct {
	Min      int64  `json:"min"`
	Max      int64  `json:"max"`
	MinHuman string `json:"min_human"`
	MaxHuman string `json:"max_human"`
}

type apiRangeCores struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

func apiZAppOf(z *shop.ZApp) apiZAppJSON {
	j := apiZAppJSON{ID: z.ID, Name: z.Name, Category: z.Category, Summary: z.Summary, Labels: z.Labels}
	if j.Labels == nil {
		j.Labels = []string{}
	}
	return j
}

func (s *Server) apiShop(w http.ResponseWriter, r *http.Request) {
	u := currentUser(r)
	list := s.shop.List(u.Role)
	out := make([]apiZAppJSON, 0, len(list))
	for _, z := range list {
		out = append(out, apiZAppOf(z))
	}
	writeJSON(w, http.StatusOK, map[string]any{"zapps": out})
}

func (s *Server) apiZApp(w http.ResponseWriter, r *http.Request) {
	z, err := s.visibleZApp(currentUser(r), chi.URLParam(r, "zapp"))
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	j := apiZAppOf(z)
	j.ReadmeHTML = string(z.ReadmeHTML)
	j.Description = z.Description
	j.Parameters = make([]apiParameterJSON, 0, len(z.Parameters))
	for _, p := range z.Parameters {
		jp := apiParameterJSON{Key: p.Key(), Kind: p.Kind, Name: p.Name, ReadableName: p.ReadableName, Description: p.Description, Type: p.Type, Default: p.Default}
		if p.Integer() {
			jp.Min, jp.Max, jp.Step = &p.Min, &p.Max, &p.Step
		}
		j.Parameters = append(j.Parameters, jp)
	}
	j.Services = make([]apiZAppService, 0, len(z.Description.Services))
	for _, sv := range z.Description.Services {
		js := apiZAppService{
			Name: sv.Name, Image: sv.Image, Monitor: sv.Monitor, EssentialCount: sv.EssentialCount, TotalCount: sv.TotalCount,
			Memory: apiRangeMemory{
				Min: int64(sv.Resources.Memory.Min), Max: int64(sv.Resources.Memory.Max),
				MinHuman: sv.Resources.Memory.Min.String(), MaxHuman: sv.Resources.Memory.Max.String(),
			},
			Cores: apiRangeCores{Min: apiCoresNumber(int64(sv.Resources.Cores.Min)), Max: apiCoresNumber(int64(sv.Resources.Cores.Max))},
			Ports: []string{},
		}
		for _, p := range sv.Ports {
			js.Ports = append(js.Ports, p.Name)
		}
		j.Services = append(j.Services, js)
	}
	writeJSON(w, http.StatusOK, j)
}
