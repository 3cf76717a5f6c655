/// One attribute value as HDF5 stores it and h5py hands it back.
///
/// The five kinds cover every attribute CLAM and TRIDENT put on `coords` plus the provenance
/// RadioPath records on the file: h5py reads `.int` as a Python `int` (int64 scalar),
/// `.double` as a `float` (float64 scalar), `.string` as a `str` (variable-length UTF-8
/// scalar, exactly what `attrs['name'] = 'x'` writes) and the array kinds as 1-D numpy
/// arrays of int64 / float64.
public enum HDF5Value: Equatable, Sendable {
    case int(Int64)
    case double(Double)
    case string(String)
    case ints([Int64])
    case doubles([Double])
}

extension HDF5Value: CustomStringConvertible {
    public var description: String {
        switch self {
        case .int(let v): return "\(v)"
        case .double(let v): return "\(v)"
        case .string(let v): return "\"\(v)\""
        case .ints(let v): return "\(v)"
        case .doubles(let v): return "\(v)"
        }
    }
}
