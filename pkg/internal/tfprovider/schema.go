package tfprovider

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/hashicorp/terraform-plugin-go/tfprotov5"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// schemaJSON is the subset of `terraform providers schema -json` for
// registry.terraform.io/hashicorp/google v8.0.0 that this provider serves.
// Every schema the provider announces is built from it, so the provider
// block, resources and data sources match the real provider exactly.
//
//go:embed schema.json
var schemaJSON []byte

// jsonSchemaFile is the layout of schema.json.
type jsonSchemaFile struct {
	Provider          jsonSchema            `json:"provider"`
	ResourceSchemas   map[string]jsonSchema `json:"resource_schemas"`
	DataSourceSchemas map[string]jsonSchema `json:"data_source_schemas"`
}

type jsonSchema struct {
	Version int64     `json:"version"`
	Block   jsonBlock `json:"block"`
}

type jsonBlock struct {
	Attributes      map[string]jsonAttribute   `json:"attributes"`
	BlockTypes      map[string]jsonNestedBlock `json:"block_types"`
	Description     string                     `json:"description"`
	DescriptionKind string                     `json:"description_kind"`
	Deprecated      bool                       `json:"deprecated"`
}

type jsonAttribute struct {
	Type            json.RawMessage `json:"type"`
	Description     string          `json:"description"`
	DescriptionKind string          `json:"description_kind"`
	Required        bool            `json:"required"`
	Optional        bool            `json:"optional"`
	Computed        bool            `json:"computed"`
	Sensitive       bool            `json:"sensitive"`
	Deprecated      bool            `json:"deprecated"`
	WriteOnly       bool            `json:"write_only"`
}

type jsonNestedBlock struct {
	NestingMode string    `json:"nesting_mode"`
	Block       jsonBlock `json:"block"`
	MinItems    int64     `json:"min_items"`
	MaxItems    int64     `json:"max_items"`
}

// providerSchemas holds the protocol schemas built from schema.json.
type providerSchemas struct {
	Provider    *tfprotov5.Schema
	Resources   map[string]*tfprotov5.Schema
	DataSources map[string]*tfprotov5.Schema
}

var (
	schemasOnce sync.Once
	schemasVal  *providerSchemas
	schemasErr  error
)

// loadSchemas parses the embedded schema once.
func loadSchemas() (*providerSchemas, error) {
	schemasOnce.Do(func() {
		schemasVal, schemasErr = parseSchemas(schemaJSON)
	})
	return schemasVal, schemasErr
}

func parseSchemas(raw []byte) (*providerSchemas, error) {
	var f jsonSchemaFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("parsing embedded schema: %w", err)
	}
	out := &providerSchemas{
		Resources:   map[string]*tfprotov5.Schema{},
		DataSources: map[string]*tfprotov5.Schema{},
	}
	var err error
	if out.Provider, err = convertSchema(f.Provider); err != nil {
		return nil, fmt.Errorf("provider schema: %w", err)
	}
	for name, s := range f.ResourceSchemas {
		if out.Resources[name], err = convertSchema(s); err != nil {
			return nil, fmt.Errorf("resource %s: %w", name, err)
		}
	}
	for name, s := range f.DataSourceSchemas {
		if out.DataSources[name], err = convertSchema(s); err != nil {
			return nil, fmt.Errorf("data source %s: %w", name, err)
		}
	}
	return out, nil
}

func convertSchema(s jsonSchema) (*tfprotov5.Schema, error) {
	b, err := convertBlock(s.Block)
	if err != nil {
		return nil, err
	}
	return &tfprotov5.Schema{Version: s.Version, Block: b}, nil
}

func stringKind(k string) tfprotov5.StringKind {
	if k == "markdown" {
		return tfprotov5.StringKindMarkdown
	}
	return tfprotov5.StringKindPlain
}

func convertBlock(b jsonBlock) (*tfprotov5.SchemaBlock, error) {
	out := &tfprotov5.SchemaBlock{
		Description:     b.Description,
		DescriptionKind: stringKind(b.DescriptionKind),
		Deprecated:      b.Deprecated,
	}
	names := make([]string, 0, len(b.Attributes))
	for n := range b.Attributes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := b.Attributes[n]
		t, err := tftypes.ParseJSONType(a.Type)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", n, err)
		}
		out.Attributes = append(out.Attributes, &tfprotov5.SchemaAttribute{
			Name:            n,
			Type:            t,
			Description:     a.Description,
			DescriptionKind: stringKind(a.DescriptionKind),
			Required:        a.Required,
			Optional:        a.Optional,
			Computed:        a.Computed,
			Sensitive:       a.Sensitive,
			Deprecated:      a.Deprecated,
			WriteOnly:       a.WriteOnly,
		})
	}
	names = names[:0]
	for n := range b.BlockTypes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		nb := b.BlockTypes[n]
		inner, err := convertBlock(nb.Block)
		if err != nil {
			return nil, fmt.Errorf("block %s: %w", n, err)
		}
		var mode tfprotov5.SchemaNestedBlockNestingMode
		switch nb.NestingMode {
		case "single":
			mode = tfprotov5.SchemaNestedBlockNestingModeSingle
		case "list":
			mode = tfprotov5.SchemaNestedBlockNestingModeList
		case "set":
			mode = tfprotov5.SchemaNestedBlockNestingModeSet
		case "map":
			mode = tfprotov5.SchemaNestedBlockNestingModeMap
		case "group":
			mode = tfprotov5.SchemaNestedBlockNestingModeGroup
		default:
			return nil, fmt.Errorf("block %s: unknown nesting mode %q", n, nb.NestingMode)
		}
		out.BlockTypes = append(out.BlockTypes, &tfprotov5.SchemaNestedBlock{
			TypeName: n,
			Block:    inner,
			Nesting:  mode,
			MinItems: nb.MinItems,
			MaxItems: nb.MaxItems,
		})
	}
	return out, nil
}
