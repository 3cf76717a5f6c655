import Foundation
import XCTest
import TestSupport
@testable import VolumeIO

final class NIfTITests: XCTestCase {
    /// The IBSI digital phantom: 5×4×4 voxels of 2 mm, grey levels 1, 3, 4, 6 inside the
    /// 74-voxel mask and 9 outside it; geometry as SimpleITK reads it (origin 0, identity).
    func testReadsIBSIPhantom() throws {
        let image = try NIfTI.read(try TestEnv.testdata("ibsi/digital_phantom_image.nii.gz"))
        let mask = try NIfTI.read(try TestEnv.testdata("ibsi/digital_phantom_mask.nii.gz"))
        XCTAssertEqual(image.size, SIMD3(5, 4, 4))
        XCTAssertTrue(image.hasSameGrid(as: mask))
        XCTAssertEqual(mask.voxels.filter { $0 > 0 }.count, 74)
        XCTAssertEqual(Set(image.voxels.map { Int($0) }), Set([1, 3, 4, 6, 9]))
        XCTAssertEqual(Set(zip(image.voxels, mask.voxels).filter { $1 > 0 }.map { Int($0.0) }), Set([1, 3, 4, 6]))
        XCTAssertEqual(image.spacing, SIMD3(2, 2, 2))
        XCTAssertEqual(image.origin, SIMD3(0, 0, 0))
        XCTAssertEqual(image.direction, Volume.identityDirection)
    }

    func testRejectsNonNIfTI() throws {
        let dir = try TestEnv.scratch(self, "nii")
        try Data(repeating: 7, count: 400).write(to: URL(fileURLWithPath: dir + "/x.nii"))
        XCTAssertThrowsError(try NIfTI.read(dir + "/x.nii")) { e in
            XCTAssertTrue("\(e)".contains("x.nii"), "the error names the file")
        }
    }
}
