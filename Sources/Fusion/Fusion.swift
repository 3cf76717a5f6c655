// Fusion: the region table (one row per case × region, radiomics plus the pathology evidence
// that falls in the region) and early/late fusion models over it.
import Regions
