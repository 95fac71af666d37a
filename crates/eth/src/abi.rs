//! The two ERC-20 functions this crate calls or decodes.

alloy_sol_types::sol! {
    /// ERC-20 `transfer(address,uint256)`.
    function transfer(address to, uint256 amount) external returns (bool);
    /// ERC-20 `balanceOf(address)`.
    function balanceOf(address owner) external view returns (uint256);
}
