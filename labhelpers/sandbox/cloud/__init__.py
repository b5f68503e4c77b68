"""Cloud-provider endpoints of the lab sandbox (Amazon ECR's API), backed by the sandbox registries."""

from .ecr import LAB_ECR_USER, LAB_IAM_USERS, LAB_NO_ECR_USER, EcrService, IamUser, build_ecr_app, serve

__all__ = ["LAB_ECR_USER", "LAB_IAM_USERS", "LAB_NO_ECR_USER", "EcrService", "IamUser", "build_ecr_app", "serve"]
