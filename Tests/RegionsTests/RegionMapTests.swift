import XCTest
import VolumeIO
@testable import Regions

final class RegionMapTests: XCTestCase {
    func testMaskAndVoxelsAgree() {
        let v = Volume(size: SIMD3(3, 2, 1), spacing: SIMD3(1, 1, 1), voxels: [0, 1, 2, 1, 0, 2])
        let map = RegionMap(family: "t", labels: v, regions: [])
        XCTAssertEqual(map.voxels(of: 1), [1, 3])
        XCTAssertEqual(map.mask(of: 2).voxels, [0, 0, 1, 0, 0, 1])
    }
}
