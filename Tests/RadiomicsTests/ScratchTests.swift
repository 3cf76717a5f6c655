import XCTest
import TestSupport
import VolumeIO
@testable import Radiomics
final class ScratchTests: XCTestCase {
    func testSTS() throws {
        let image = try NIfTI.read("/work/shared/testdata/radiology/sts_001/CT_image.nii.gz")
        let mask = try NIfTI.read("/work/shared/testdata/radiology/sts_001/CT_mask.nii.gz")
        func t<T>(_ label: String, _ f: () throws -> T) rethrows -> T { let t0 = Date(); let r = try f(); print(label, String(format: "%.3f s", Date().timeIntervalSince(t0))); return r }
        var p = RadiomicsParameters()
        p.discretisation = .fixedBinSize(25)
        p.ivhDiscretisation = .intensities(step: 1)
        let f = try t("native grid, all families") { try RadiomicsExtractor(parameters: p).extract(image: image, mask: mask) }
        for x in f where !x.value.isFinite { print("non-finite", x.tag) }
        p.resampledSpacing = SIMD3(1, 1, 1); p.roundIntensities = true; p.resegmentationLower = -500; p.resegmentationUpper = 400
        let roi = try t("prepare 1 mm") { try PreparedROI(image: image, mask: mask, parameters: p) }
        print("ROI voxels at 1 mm", roi.morphologicalMask.filter { $0 }.count, roi.size)
        _ = t("moran") { SpatialAutocorrelation.compute(roi) }
        _ = t("morph no moran") { Morphology.features(roi, spatialAutocorrelation: false) }
        _ = t("local") { LocalIntensity.features(roi) }
        let g = t("features 1 mm") { RadiomicsExtractor(parameters: p).features(of: roi) }
        for x in g where x.tag.hasPrefix("morph") || x.tag.hasPrefix("loc") { print(x.tag, x.value) }
    }
}
