// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

interface IERC20Minimal {
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @title FarBatchPayout
/// @notice Pays many provider wallets in one transaction, once per batch id.
/// @dev Tokens move straight from the payer (the owner) to each recipient with `transferFrom`; this
///      contract never holds funds. So nothing can be stranded here, no withdraw function is needed,
///      and the payer's ERC-20 allowance caps what this contract can ever move. The payer approves
///      this contract once (type(uint256).max skips the allowance write in tokens that support it).
///      Only the owner may pay: anyone else could otherwise burn a batch id before the real batch
///      lands. A batch id is refused once paid, so a resent or replayed batch cannot pay twice.
contract FarBatchPayout {
    /// @notice The ERC-20 paid out (set once at deployment).
    address public immutable token;
    /// @notice The payer: the only account allowed to pay batches, and the one whose tokens are sent.
    address public owner;
    /// @notice The proposed next owner, until it accepts (two-step handover protects against typos).
    address public pendingOwner;
    /// @notice Block number in which a batch id was paid; 0 when it never was.
    mapping(bytes32 => uint256) public paidAtBlock;

    event BatchPaid(bytes32 indexed batchId, address indexed payer, uint256 recipientCount, uint256 totalAmount);
    event OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    error NotOwner();
    error NotPendingOwner();
    error NotAContract(address token);
    error EmptyBatch();
    error LengthMismatch(uint256 recipients, uint256 amounts);
    error BatchAlreadyPaid(bytes32 batchId, uint256 paidAtBlock);
    error ZeroRecipient(uint256 index);
    error ZeroAmount(uint256 index);
    error TransferFailed(uint256 index);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    constructor(address token_) {
        if (token_.code.length == 0) revert NotAContract(token_);
        token = token_;
        owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    /// @notice True once `batchId` has been paid.
    function isPaid(bytes32 batchId) external view returns (bool) {
        return paidAtBlock[batchId] != 0;
    }

    /// @notice Pay `amounts[i]` token units to `recipients[i]` from the owner's balance, as batch `batchId`.
    /// @dev Reverts as a whole if any transfer fails, so a batch is either fully paid or not at all.
    function payBatch(bytes32 batchId, address[] calldata recipients, uint256[] calldata amounts)
        external
        onlyOwner
    {
        uint256 count = recipients.length;
        if (count == 0) revert EmptyBatch();
        if (count != amounts.length) revert LengthMismatch(count, amounts.length);
        uint256 previous = paidAtBlock[batchId];
        if (previous != 0) revert BatchAlreadyPaid(batchId, previous);
        // Recorded before any external call: a re-entrant call sees the batch as paid.
        paidAtBlock[batchId] = block.number;

        uint256 total = 0;
        for (uint256 i = 0; i < count; ++i) {
            address recipient = recipients[i];
            uint256 amount = amounts[i];
            if (recipient == address(0)) revert ZeroRecipient(i);
            if (amount == 0) revert ZeroAmount(i);
            total += amount;
            _safeTransferFrom(msg.sender, recipient, amount, i);
        }
        emit BatchPaid(batchId, msg.sender, count, total);
    }

    /// @notice Propose `newOwner` as the next payer; it takes over when it calls `acceptOwnership`.
    function transferOwnership(address newOwner) external onlyOwner {
        pendingOwner = newOwner;
        emit OwnershipTransferStarted(owner, newOwner);
    }

    /// @notice Complete a handover started by `transferOwnership`.
    function acceptOwnership() external {
        if (msg.sender != pendingOwner) revert NotPendingOwner();
        emit OwnershipTransferred(owner, msg.sender);
        owner = msg.sender;
        pendingOwner = address(0);
    }

    /// @dev Accepts tokens that return `true` and tokens that return nothing (older ERC-20s);
    ///      anything else fails the whole batch. A token's own revert reason (say, an allowance too
    ///      small) is passed through unchanged so the payer sees why.
    function _safeTransferFrom(address from, address to, uint256 amount, uint256 index) private {
        (bool ok, bytes memory data) =
            token.call(abi.encodeCall(IERC20Minimal.transferFrom, (from, to, amount)));
        if (!ok) {
            if (data.length == 0) revert TransferFailed(index);
            assembly ("memory-safe") {
                revert(add(data, 32), mload(data))
            }
        }
        if (data.length != 0 && (data.length != 32 || !abi.decode(data, (bool)))) revert TransferFailed(index);
    }
}
