import Foundation
@testable import Registration
import TestSupport
import VolumeIO
import XCTest

/// 3D HD95 against scipy: 6-connected boundary (erosion with the grid edge as background),
/// exact anisotropic EDT to the other boundary, numpy's linear 95th percentile, larger direction.
final class MaskDistance3DTests: XCTestCase {
    func testHausdorff95MatchesScipy() throws {
        var label = try NIfTI.read(try TestEnv.testdata("radiology/prostate/aaa0060_T2_axial_prostate_label.nii.gz"))
        for k in 0..<label.voxels.count { label.voxels[k] = label.voxels[k] > 0.5 ? 1 : 0 }
        let c = try XCTUnwrap(Registration3D.moments(label)).centroid
        let a = 7 * Double.pi / 180
        let t = AffineTransform3D(center: c, parameters: [1.05 * cos(a), -sin(a), 0, sin(a), 0.95 * cos(a), 0, 0, 0, 1, 1.3, -2.1, 4])
        let other = Registration3D.warpedMask(label, onto: label, t.map)
        let ours = try XCTUnwrap(MaskDistance3D.hausdorff95(label, other))
        let dir = try TestEnv.scratch(self, "hd95")
        try NIfTI.write(label, to: dir + "/a.nii")
        try NIfTI.write(other, to: dir + "/b.nii")
        let script = """
        import sys, json, numpy as np, SimpleITK as sitk
        from scipy import ndimage as ndi
        d = sys.argv[1]
        img = sitk.ReadImage(d + "/a.nii")
        sp = img.GetSpacing()[::-1]
        a = sitk.GetArrayFromImage(img) > 0.5
        b = sitk.GetArrayFromImage(sitk.ReadImage(d + "/b.nii")) > 0.5
        st = ndi.generate_binary_structure(3, 1)
        ba = a & ~ndi.binary_erosion(a, st, border_value=0)
        bb = b & ~ndi.binary_erosion(b, st, border_value=0)
        dab = ndi.distance_transform_edt(~bb, sampling=sp)[ba]
        dba = ndi.distance_transform_edt(~ba, sampling=sp)[bb]
        print(json.dumps({"hd95": float(max(np.percentile(dab, 95), np.percentile(dba, 95)))}))
        """
        guard let data = try? TestEnv.runPython(script, [dir]) else { throw XCTSkip("SKIPPED: scipy/SimpleITK not available") }
        let j = try XCTUnwrap(try TestEnv.json(data) as? [String: Any])
        let theirs = try XCTUnwrap(j["hd95"] as? Double)
        print(String(format: "3D HD95: ours %.6f mm, scipy %.6f mm", ours, theirs))
        XCTAssertGreaterThan(theirs, 0.5)
        XCTAssertEqual(ours, theirs, accuracy: 1e-6)
    }
}
