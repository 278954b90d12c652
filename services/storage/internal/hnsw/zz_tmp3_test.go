package hnsw

import (
	"fmt"
	"math"
)

func f32(w uint32) float32 { return math.Float32frombits(w) }

func init() {
	tmpVariant = func(v string) {
		fmt.Sscanf(v, "asm%da%d", &pfAsm, &vecAhead)
	}
}
